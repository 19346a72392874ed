"""The methods `featx compare` runs, each built fresh for one labelled draw."""

from __future__ import annotations

from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from featx.adapt import BDA, CORAL, GFK, JDA, TCA, AdaptThenClassify, EasyTL, SubspaceAlignment
from featx.classify import TunedClassifier, make_classifier

#: frozen features + a classifier whose hyper-parameters inner CV picks on the labelled rows
FROZEN = {
    "logreg": "logistic regression on standardised features, C in 0.01..100",
    "linear-svm": "linear SVM (libsvm) on standardised features, C in 0.001..1",
    "rbf-svm": "RBF SVM on standardised features, C in 0.1..100",
    "knn": "k-NN, distance-weighted, k in 1, 3, 5, 10",
    "ncm": "nearest class mean",
}
#: frozen features standardised per domain, aligned to the target domain, then the tuned
#: logistic regression ("zscore": the standardisation alone)
ALIGNED = {
    "zscore": None,
    "coral": CORAL,
    "sa": SubspaceAlignment,
    "gfk": GFK,
    "tca": TCA,
    "jda": JDA,
    "bda": BDA,
    "easytl": None,  # a classifier of its own
}
#: fine-tuning the backbone on the images (keyword arguments of FineTuneClassifier)
FINETUNED = {
    "ft-last": {"freeze": "last:2"},
    "ft-full": {"freeze": "none"},
    "lp-ft": {"freeze": "lp-ft", "lp_epochs": 0, "head_init": "logreg"},
}


def kind_of(method: str) -> str:
    """``frozen``, ``aligned`` or ``finetuned``."""
    for kind, table in (("frozen", FROZEN), ("aligned", ALIGNED), ("finetuned", FINETUNED)):
        if method in table:
            return kind
    known = sorted(FROZEN) + sorted(ALIGNED) + sorted(FINETUNED)
    raise ValueError(f"Unknown method {method!r}; expected one of {known}.")


def describe(method: str) -> str:
    """What ``method`` runs, in words (part of the key under which its results are reused)."""
    kind = kind_of(method)
    if kind == "frozen":
        return FROZEN[method]
    if kind == "finetuned":
        return f"FineTuneClassifier({FINETUNED[method]})"
    head = "" if method == "easytl" else " + " + FROZEN["logreg"]
    return f"per-domain z-score + {method}{head}"


def tuned_head(name: str, n_rows: int) -> TunedClassifier:
    """The head ``name`` with its inner-CV grid (k-NN candidates limited to what a fold holds)."""
    if name == "logreg":  # standardised: lbfgs converges ~6x faster on CNN embeddings, same accuracy
        return TunedClassifier(make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)),
                               {"logisticregression__C": [0.01, 0.1, 1.0, 10.0, 100.0]})
    if name == "linear-svm":  # libsvm: 0.3 s on 1,200 x 1280 where liblinear took 1.5-3 s and did not converge
        return TunedClassifier(make_pipeline(StandardScaler(), SVC(kernel="linear")),
                               {"svc__C": [0.001, 0.01, 0.1, 1.0]})
    if name == "rbf-svm":
        return TunedClassifier(make_classifier("rbf-svm"), {"svc__C": [0.1, 1.0, 10.0, 100.0]})
    if name == "knn":
        ks = [k for k in (1, 3, 5, 10) if k <= max(1, n_rows // 2)]
        # without a possible split (one row of some class) the estimator's own k is used: at most n_rows
        return TunedClassifier(KNeighborsClassifier(min(5, n_rows), weights="distance"), {"n_neighbors": ks})
    return TunedClassifier(make_classifier(name))


def feature_method(method: str, n_rows: int):
    """A domain-aware estimator (``fit(X, y, sample_domain=...)``) for a frozen or aligned method."""
    kind = kind_of(method)
    if kind == "frozen":
        return AdaptThenClassify("passthrough", tuned_head(method, n_rows))
    if method == "easytl":
        return EasyTL()
    adapter = "passthrough" if ALIGNED[method] is None else ALIGNED[method]()
    return AdaptThenClassify(adapter, tuned_head("logreg", n_rows))


def default_methods(with_target: bool, finetune: bool = True) -> list[str]:
    """Frozen heads; the alignment methods when there is a target; the fine-tuning strategies."""
    out = list(FROZEN)
    if with_target:
        out += ["zscore", "coral", "sa", "gfk", "tca", "jda", "easytl"]
    if finetune:
        out += list(FINETUNED)
    return out
