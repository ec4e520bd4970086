"""Model files: saved and loaded without executing code; tampered files refused."""

import json
import zipfile

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.linear_model import SGDClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from dasklearn.io import UntrustedModelError, load, save
from dasklearn.model_selection import GridSearchCV


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
