"""Model files: saved and loaded without executing code; tampered files refused."""

import json
import pickle
import warnings
import zipfile

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification
from sklearn.linear_model import SGDClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from dasklearn.io import UntrustedModelError, load, save
from dasklearn.model_selection import GridSearchCV


class CustomSGD(SGDClassifier):
    """A user's own estimator: trusted only when named."""


@pytest.fixture
def fitted():
    X, y = make_classification(n_samples=200, n_features=6, random_state=0)
    pipe = make_pipeline(StandardScaler(), SGDClassifier(random_state=0))
    return GridSearchCV(pipe, {"sgdclassifier__alpha": [1e-4, 1e-2]}, cv=3, n_jobs=1).fit(X, y), X


def test_round_trip(fitted, tmp_path):
    search, X = fitted
    path = tmp_path / "model.skops"
    save(search.best_estimator_, path)
    loaded = load(path)
    np.testing.assert_array_equal(loaded.predict(X), search.predict(X))


def _rewrite_schema(src, dst, change):
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for item in zin.namelist():
            data = zin.read(item)
            if item == "schema.json":
                schema = json.loads(data)
                change(schema)
                data = json.dumps(schema).encode()
            zout.writestr(item, data)


def test_tampered_file_is_refused(fitted, tmp_path):
    search, _ = fitted
    good, bad = tmp_path / "model.skops", tmp_path / "tampered.skops"
    save(search.best_estimator_, good)

    def inject(schema):  # make the top-level object an os.system call target
        schema["__module__"], schema["__class__"] = "os", "system"

    _rewrite_schema(good, bad, inject)
    with pytest.raises(UntrustedModelError, match=r"not trusted: \['os.system'\].*Nothing was loaded"):
        load(bad)


def test_garbage_file_is_refused(tmp_path):
    path = tmp_path / "junk.skops"
    path.write_bytes(b"\x80\x04 not a zip at all")
    with pytest.raises(UntrustedModelError, match="not a readable skops model file"):
        load(path)


def test_a_file_naming_a_dasklearn_function_is_refused(fitted, tmp_path):
    """skops rebuilds objects by calling their type with arguments from the
    file: trusting every name under dasklearn let a file call
    dasklearn.io.save (a file write) or connect a Client while loading."""
    import zoneinfo

    import skops.io as sio

    victim = tmp_path / "written_by_load.txt"
    base, evil = tmp_path / "base.skops", tmp_path / "evil.skops"
    sio.dump({"z": zoneinfo.ZoneInfo("UTC"), "t": ("payload", str(victim))}, base)

    def call_save(schema):
        node = schema["content"]["z"]
        node["__module__"], node["__class__"] = "dasklearn.io", "save"
        node["content"] = schema["content"]["t"]

    _rewrite_schema(base, evil, call_save)
    with pytest.raises(UntrustedModelError, match=r"\['dasklearn.io.save'\]"):
        load(evil)
    assert not victim.exists()


def test_searches_and_wrappers_round_trip_with_their_scorers(tmp_path):
    import dask.array as da
    from scipy.stats import loguniform

    from dasklearn.linear_model import LogisticRegression
    from dasklearn.model_selection import HyperbandSearchCV, KFold, RandomizedSearchCV, ShuffleSplit
    from dasklearn.wrappers import DataParallel, Incremental

    X, y = make_classification(n_samples=300, n_features=5, random_state=0)
    Xd, yd = da.from_array(X, chunks=100), da.from_array(y, chunks=100)
    sgd = SGDClassifier(loss="log_loss", random_state=0)
    models = [
        GridSearchCV(sgd, {"alpha": [1e-4, 1e-2]}, cv=KFold(3), n_jobs=1).fit(X, y),
        GridSearchCV(sgd, {"alpha": [1e-4, 1e-2]}, scoring=["accuracy", "roc_auc", "neg_log_loss"],
                     refit="roc_auc", cv=ShuffleSplit(2, random_state=0), n_jobs=1).fit(X, y),
        RandomizedSearchCV(sgd, {"alpha": [1e-5, 1e-4, 1e-3]}, n_iter=2, scoring="f1", random_state=0,
                           n_jobs=1).fit(X, y),
        Incremental(sgd).fit(Xd, yd, classes=[0, 1]),
        DataParallel(sgd, max_rounds=2, n_jobs=2).fit(Xd, yd),
        LogisticRegression(l1_ratio=0.5, solver="auto").fit(Xd, yd),
    ]
    for i, model in enumerate(models):
        path = tmp_path / f"m{i}.skops"
        save(model, path)
        loaded = load(path)
        np.testing.assert_array_equal(np.asarray(loaded.predict(X)), np.asarray(model.predict(X)))
    # scipy.stats distributions run a code template the file holds when unpickled:
    # refused unless named (for files you made); the best estimator loads as it is
    search = HyperbandSearchCV(sgd, {"alpha": loguniform(1e-5, 1e-1)}, max_iter=3, random_state=0,
                               n_jobs=1).fit(Xd, yd)
    path = tmp_path / "hyperband.skops"
    save(search, path)
    with pytest.raises(UntrustedModelError, match="scipy.stats"):
        load(path)
    import skops.io as sio

    loaded = load(path, trusted=sio.get_untrusted_types(file=str(path)))
    np.testing.assert_array_equal(loaded.predict(X), search.predict(X))
    save(search.best_estimator_, tmp_path / "best.skops")
    np.testing.assert_array_equal(load(tmp_path / "best.skops").predict(X), search.predict(X))


def test_no_module_a_file_names_is_imported_to_judge_it(fitted, tmp_path):
    """Judging a name by importing its module would run that module: a file
    naming dasklearn.cli.__main__ made load run the command line."""
    search, _ = fitted
    good, bad = tmp_path / "model.skops", tmp_path / "main.skops"
    save(search.best_estimator_, good)

    def name_the_cli(schema):
        schema["__module__"], schema["__class__"] = "dasklearn.cli.__main__", "main"

    _rewrite_schema(good, bad, name_the_cli)
    with pytest.raises(UntrustedModelError, match="dasklearn.cli.__main__.main"):
        load(bad)


def test_missing_files_and_a_single_trusted_name(fitted, tmp_path):
    import skops.io as sio

    with pytest.raises(FileNotFoundError):
        load(tmp_path / "nothing.skops")
    with pytest.raises(IsADirectoryError):
        load(tmp_path)

    search, X = fitted
    path = tmp_path / "custom.skops"
    save(CustomSGD(random_state=0).fit(X, search.predict(X)), path)
    [name] = sio.get_untrusted_types(file=str(path))
    assert isinstance(load(path, trusted=name), CustomSGD)  # a lone name, not its characters
    with pytest.raises(UntrustedModelError, match="CustomSGD"):
        load(path, trusted=None)  # None: no extra name (before: 'NoneType' object is not iterable)
    with pytest.raises(TypeError, match="trusted must be a type name or a list of type names.*got True"):
        load(path, trusted=True)
    import dasklearn

    assert dasklearn.io.load is load  # loaded on access, as the other submodules


def test_searches_scored_by_any_built_in_scorer_name_load(tmp_path):
    """Every scorer name scikit-learn registers: its scorer type and the
    metric function it calls are trusted (matthews_corrcoef and the
    likelihood ratios were refused)."""
    from sklearn.linear_model import LogisticRegression

    X, y = make_classification(n_samples=120, n_features=4, random_state=0)
    for scoring in ("matthews_corrcoef", "positive_likelihood_ratio", "neg_negative_likelihood_ratio"):
        search = GridSearchCV(LogisticRegression(), {"C": [1.0]}, cv=2, scoring=scoring).fit(X, y)
        save(search, tmp_path / f"{scoring}.skops")
        loaded = load(tmp_path / f"{scoring}.skops")
        assert loaded.score(X, y) == search.score(X, y)


def test_fitted_imputers_load_and_tree_models_are_named(tmp_path):
    from sklearn.impute import SimpleImputer
    from sklearn.tree import DecisionTreeClassifier

    X, y = make_classification(n_samples=100, n_features=4, random_state=0)
    X[::7, 1] = np.nan
    imputer = SimpleImputer().fit(X)
    save(imputer, tmp_path / "imputer.skops")
    np.testing.assert_array_equal(load(tmp_path / "imputer.skops").transform(X), imputer.transform(X))
    tree = DecisionTreeClassifier(random_state=0).fit(np.nan_to_num(X), y)
    save(tree, tmp_path / "tree.skops")
    with pytest.raises(UntrustedModelError, match=r"sklearn\.tree\._tree\.Tree"):
        load(tmp_path / "tree.skops")
    assert load(tmp_path / "tree.skops", trusted=["sklearn.tree._tree.Tree"]).score(np.nan_to_num(X), y) == 1.0


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_fitted_networks_load(solver, tmp_path):
    """A fitted MLP (DataParallel's networks) holds its optimizer: loaded
    without naming it, and it predicts and trains on as the saved one."""
    from sklearn.neural_network import MLPClassifier

    X, y = make_classification(n_samples=200, n_features=4, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mlp = MLPClassifier(hidden_layer_sizes=(5,), solver=solver, max_iter=5, random_state=0).fit(X, y)
        save(mlp, tmp_path / "mlp.skops")
        loaded = load(tmp_path / "mlp.skops")
        np.testing.assert_array_equal(loaded.predict_proba(X), mlp.predict_proba(X))
        np.testing.assert_array_equal(loaded.partial_fit(X, y).predict_proba(X), mlp.partial_fit(X, y).predict_proba(X))


@pytest.mark.parametrize("damage", [lambda b: b"garbage", lambda b: b[: len(b) // 2]], ids=["garbage", "truncated"])
def test_a_damaged_array_in_a_model_file_is_named_as_such(fitted, tmp_path, damage):
    good, bad = tmp_path / "good.skops", tmp_path / "bad.skops"
    save(fitted, good)
    with zipfile.ZipFile(good) as zin, zipfile.ZipFile(bad, "w") as zout:
        first = [n for n in zin.namelist() if n.endswith(".npy")][0]
        for name in zin.namelist():
            data = zin.read(name)
            zout.writestr(name, damage(data) if name == first else data)
    with pytest.raises(UntrustedModelError, match="not a readable skops model file") as info:
        load(bad)
    assert "pickle" not in str(info.value)


def test_a_trusted_type_whose_module_is_missing_says_so(tmp_path, monkeypatch):
    """Not "corrupted or tampered with": the module is not installed here."""
    import sys

    (tmp_path / "h6_model.py").write_text(
        "from sklearn.linear_model import LogisticRegression\n"
        "class Mine(LogisticRegression):\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import h6_model

    X, y = make_classification(n_samples=60, n_features=3, n_informative=2, n_redundant=0, random_state=0)
    save(h6_model.Mine().fit(X, y), tmp_path / "m.skops")
    monkeypatch.delitem(sys.modules, "h6_model")
    (tmp_path / "h6_model.py").unlink()
    with pytest.raises(ModuleNotFoundError, match="h6_model"):
        load(tmp_path / "m.skops", trusted=["h6_model.Mine"])


@pytest.mark.parametrize("meta", [
    pd.Series([], dtype="int64", name="label"),
    pd.Series([], dtype="Int64", name=np.int64(3)),
    pd.Series([], dtype=pd.StringDtype("python")),
    pd.Series([], dtype=pd.CategoricalDtype(pd.Index([0, 1], dtype="int32"))),
    pd.DataFrame({"a": pd.Series([], dtype="float32"), 3: pd.Series([], dtype="bool")}),
    pd.DataFrame({"c": pd.Series([], dtype=pd.CategoricalDtype(["x", "y"], ordered=True))}),
    pd.DataFrame({0: pd.Series([], dtype="float64")}).set_axis(pd.Index([0], dtype=object, name="feat"), axis=1),
])
def test_a_wrapper_declaring_a_pandas_meta_round_trips(meta, tmp_path):
    """skops cannot rebuild pandas objects: a Series meta was saved but never
    loadable (blamed on a damaged file), a DataFrame meta failed to save."""
    from dasklearn.wrappers import Incremental, ParallelPostFit

    X, y = make_classification(n_samples=60, n_features=4, random_state=0)
    for wrapper in (ParallelPostFit(SGDClassifier(random_state=0), predict_meta=meta),
                    Incremental(StandardScaler(), transform_meta=meta)):
        wrapper.fit(X, y)
        path = tmp_path / f"{type(wrapper).__name__}.skops"
        save(wrapper, path)
        loaded = load(path)
        name = "predict_meta" if isinstance(wrapper.estimator, SGDClassifier) else "transform_meta"
        got = getattr(loaded, name)
        assert type(got) is type(meta)
        if isinstance(meta, pd.Series):
            assert repr(got.dtype) == repr(meta.dtype) and got.name == meta.name
        else:
            assert list(map(repr, got.dtypes)) == list(map(repr, meta.dtypes))
            pd.testing.assert_index_equal(got.columns, meta.columns, exact=True)
        assert getattr(wrapper, name) is meta  # (saving left the wrapper's own parameter alone)
        # a pickle (dask sending the wrapper to a worker, deepcopy) keeps the meta itself
        assert isinstance(pickle.loads(pickle.dumps(wrapper)).__dict__[name], type(meta))


def test_a_meta_that_cannot_be_stored_is_refused_when_saving(tmp_path):
    """Tuple column labels cannot be described in skops' terms: refused
    with the fix, rather than a file that cannot be loaded."""
    from dasklearn.wrappers import ParallelPostFit

    X, y = make_classification(n_samples=60, n_features=4, random_state=0)
    meta = pd.DataFrame({("p", 1): pd.Series([], dtype="float64")})
    wrapper = ParallelPostFit(SGDClassifier(random_state=0), predict_proba_meta=meta).fit(X, y)
    with pytest.raises(TypeError, match=r"predict_proba_meta=DataFrame cannot be stored.*set_params"):
        save(wrapper, tmp_path / "m.skops")
