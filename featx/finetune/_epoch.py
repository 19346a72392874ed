"""One training epoch of fine-tuning: source batches, and with a transfer objective the same
number of unlabelled target images beside each, through the network together."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from featx.finetune._data import epoch_batches, paired_batches
from featx.finetune._freeze import freeze_batchnorm_statistics
from featx.finetune._optim import set_learning_rates, warmup_cosine
from featx.utils.machine import process_cpu_seconds


@dataclass
class Transfer:
    """The unlabelled target images of a fine-tuning run and the objective they train with.

    Attributes
    ----------
    images : torch.utils.data.Dataset
        ``images[i] -> (i, HWC uint8)`` (augmented like the source).
    objective : torch.nn.Module
        ``objective(f_s, f_t, logits_s, logits_t, progress)`` (:func:`featx.deepda.transfer_objective`).
    trade_off : float
        Its weight against the source cross-entropy.
    """

    images: object
    objective: torch.nn.Module
    trade_off: float


def _to_device(images, device):
    images = images.to(device, non_blocking=True)
    return images if device.type == "mps" else images.contiguous(memory_format=torch.channels_last)


def train_epoch(clf, net, opt, scaler, dataset, y_train, epoch, run, total, warmup, device, precision, workers,
                transfer: Transfer | None = None) -> dict:
    """Train ``net`` for one epoch of ``clf``'s settings; the epoch's statistics.

    Each step: the source cross-entropy (label smoothing as set) plus, with ``transfer``,
    ``trade_off`` times its objective on the features and logits of the source batch and of
    as many target images (:func:`featx.finetune._data.paired_batches`), the two batches
    through the network as one (as the DANN, CDAN and MCC papers' code does), with
    ``progress = step / total`` driving the objectives' schedules.
    """
    from featx.runtime import autocast, make_batch_loader, reuse_large_allocations
    from featx.utils.progress import progress_bar

    torch.manual_seed(clf._seed * 100_003 + epoch)  # dropout and any other torch randomness
    dataset.epoch = epoch
    batches = epoch_batches(len(dataset), clf.batch_size, clf._seed, epoch)
    pin = device.type == "cuda"
    loader = make_batch_loader(dataset, batches, num_workers=workers, pin_memory=pin)
    if transfer is not None:
        transfer.images.epoch = epoch
        target_batches = paired_batches([len(b) for b in batches], len(transfer.images), clf._seed, epoch)
        loader = zip(loader, make_batch_loader(transfer.images, target_batches, num_workers=workers, pin_memory=pin))
        transfer.objective.train()
    net.train()
    if clf.batchnorm == "frozen" or not clf.train_frozen_batchnorm:
        freeze_batchnorm_statistics(net.body, every=clf.batchnorm == "frozen")
    seen = correct = 0
    loss_sum = transfer_sum = wait = 0.0
    start = ready = time.perf_counter()
    cpu_start = process_cpu_seconds()
    desc = f"fine-tune {clf._backbone_name()} epoch {epoch + 1}/{clf.epochs}"
    bar = progress_bar(total=len(batches), desc=desc, unit="batch", leave=False, disable=not clf.progress)
    with reuse_large_allocations(device.type == "cpu"):
        try:
            for item in loader:
                wait += time.perf_counter() - ready  # the step waited for decoding
                (idx, images), target_images = (item[0], item[1][1]) if transfer is not None else (item, None)
                set_learning_rates(opt.optimizer, warmup_cosine(run["step"], total, warmup))
                images = _to_device(images if target_images is None else torch.cat([images, target_images]), device)
                target = y_train[idx].to(device, non_blocking=True)
                n = len(idx)
                with autocast(device, precision):
                    features = net.embed(images)
                    logits_all = net.head(features)
                logits = logits_all[:n].float()
                loss = F.cross_entropy(logits, target, label_smoothing=clf.label_smoothing)
                if transfer is not None:
                    extra = transfer.objective(features[:n].float(), features[n:].float(), logits,
                                               logits_all[n:].float(), run["step"] / max(total, 1))
                    loss = loss + transfer.trade_off * extra
                    transfer_sum += float(extra.detach()) * n
                opt.optimizer.zero_grad(set_to_none=True)
                if scaler is not None:
                    scaler.scale(loss).backward()
                    scaler.step(opt.optimizer)
                    scaler.update()
                else:
                    loss.backward()
                    opt.optimizer.step()
                run["step"] += 1
                seen += n
                loss_sum += float(loss.detach()) * n
                correct += int((logits.argmax(1) == target).sum())
                rate = seen / max(time.perf_counter() - start, 1e-9)
                bar.set_postfix(loss=f"{loss_sum / seen:.3f}", acc=f"{correct / seen:.3f}", img_s=f"{rate:.1f}")
                bar.update(1)
                ready = time.perf_counter()  # float(loss) above waited for the device
        finally:
            bar.close()
    trainable = sum(p.requires_grad for p in net.body.parameters())
    elapsed = time.perf_counter() - start
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    stats = {"epoch": epoch + 1, "loss": loss_sum / seen, "train_acc": correct / seen,
             "images_per_s": seen / elapsed, "data_wait_fraction": wait / max(elapsed, 1e-9),
             "cpu_utilisation": (process_cpu_seconds() - cpu_start) / max(elapsed * cores, 1e-9),
             "trainable_backbone_tensors": trainable, "lr_head": opt.optimizer.param_groups[0]["lr"]}
    if transfer is not None:
        stats["transfer_loss"] = transfer_sum / seen
    return stats
