"""Stage groups of a backbone: its parameters in input-to-output order (stem, blocks, final conv)."""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

#: timm marks a final layer (e.g. EfficientNet's conv_head) to be merged into the group before it;
#: featx keeps it as a group of its own, so "the final conv" can be frozen or trained alone.
_TIMM_MERGE_WITH_PREVIOUS = (99999,)


@dataclass(frozen=True)
class StageGroup:
    """One stage of a network: a display name and its parameter names."""

    name: str
    params: tuple[str, ...]


def _labels(grouped: list[list[str]]) -> list[str]:
    """``stem`` for the first group; then the top-level module name, with the stage index
    when several groups share that module (``blocks.3``), or the joined names of a mixed
    group (``conv_head+bn2``)."""
    tops = [list(dict.fromkeys(n.split(".")[0] for n in g)) for g in grouped]
    shared = {t[0] for i, t in enumerate(tops) if len(t) == 1 and sum(t == u for u in tops) > 1}
    out = []
    for i, (g, t) in enumerate(zip(grouped, tops)):
        if i == 0:
            out.append("stem")
        elif len(t) > 1:
            out.append("+".join(t))
        elif t[0] in shared:
            out.append(".".join(g[0].split(".")[:2]))
        else:
            out.append(t[0])
    return out


def _timm_matcher(model: nn.Module):
    matcher = getattr(model, "group_matcher", None)
    if matcher is None:
        return None
    try:
        spec = matcher(coarse=True)
    except (NotImplementedError, TypeError):
        return None
    if not isinstance(spec, dict):
        return spec
    out = {}
    for key, value in spec.items():
        if isinstance(value, (list, tuple)):
            value = [(p, (99998,) if s == _TIMM_MERGE_WITH_PREVIOUS else s) for p, s in value]
        out[key] = value
    return out


def stage_groups(model: nn.Module) -> list[StageGroup]:
    """The parameters of ``model`` grouped by stage, from the input to the output.

    timm models are grouped by their own ``group_matcher(coarse=True)`` (stem, each block
    stage, then the final conv as its own group); other models by their top-level child
    modules in registration order. Every parameter is in exactly one group.

    Examples
    --------
    >>> import timm
    >>> [g.name for g in stage_groups(timm.create_model("test_resnet", num_classes=0))]
    ['stem', 'layer1', 'layer2', 'layer3', 'layer4']
    """
    names = [n for n, _ in model.named_parameters()]
    matcher = _timm_matcher(model)
    if matcher is not None:
        from timm.models import group_parameters

        grouped = [list(v) for _, v in sorted(group_parameters(model, matcher).items())]
    else:
        grouped = []
        for child, module in model.named_children():
            params = [f"{child}.{n}" for n, _ in module.named_parameters()]
            if params:
                grouped.append(params)
        direct = [n for n, _ in model.named_parameters(recurse=False)]
        if direct:
            grouped.insert(0, direct)
    order = {n: i for i, n in enumerate(names)}
    groups = [StageGroup(label, tuple(sorted(g, key=order.__getitem__))) for label, g in zip(_labels(grouped), grouped)]
    assert sorted(p for g in groups for p in g.params) == sorted(names), "stage groups must cover every parameter"
    return groups
