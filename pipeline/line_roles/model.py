"""The line-role model: a small random forest, stored as plain node arrays in JSON.

Fitted with scikit-learn (deterministic: a fixed ``random_state``, one thread)
and stored as each tree's split features, thresholds, children and leaf role
shares; applied with numpy. Loading it needs no scikit-learn and no pickle, so
any version reads it, and a page of 100 lines costs about a millisecond after
its features. A forest, not a linear model: what makes a line a venue is a
combination (the largest type of its block *and* no time in it *and* a street
or a day under it), which trees express and one weighted sum does not.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.line_roles.features import FEATURES, Box, line_features
from pipeline.line_roles.labels import ROLES
from pipeline.line_roles.table import Image

__all__ = ["MODEL_FILE", "RoleModel", "Tree", "fit", "load_model", "save_model", "training_matrix"]

MODEL_FILE = Path(__file__).with_name("model.json")  # shipped in the package: the backend loads it
TREES = 40
DEPTH = 8
_SEED = 0
_SHARE_DIGITS = 4  # leaf role shares as stored


@dataclass(frozen=True)
class Tree:
    """One decision tree: node ``i`` sends x left when ``x[feature[i]] <= threshold[i]``; -1 marks a leaf."""

    feature: np.ndarray
    threshold: np.ndarray
    left: np.ndarray
    right: np.ndarray
    shares: np.ndarray  # (nodes, roles): the role shares of the training lines that reached each leaf

    def apply(self, x: np.ndarray) -> np.ndarray:
        """Each row's role shares at the leaf it reaches."""
        node = np.zeros(x.shape[0], dtype=int)
        rows = np.arange(x.shape[0])
        for _ in range(DEPTH + 1):
            feature = self.feature[node]
            inner = feature >= 0
            if not inner.any():
                break
            go_left = x[rows, np.where(inner, feature, 0)] <= self.threshold[node]
            node = np.where(inner, np.where(go_left, self.left[node], self.right[node]), node)
        return np.asarray(self.shares[node])


@dataclass(frozen=True)
class RoleModel:
    """The mean of the trees' leaf shares over ``roles``."""

    features: tuple[str, ...]
    roles: tuple[str, ...]
    trees: tuple[Tree, ...]

    def probabilities(self, lines: Sequence[Box]) -> np.ndarray:
        """One row of role probabilities (columns in ``roles`` order) per line of one screenshot."""
        return self.predict(line_features(lines))

    def predict(self, features: np.ndarray) -> np.ndarray:
        if features.shape[0] == 0:
            return np.zeros((0, len(self.roles)))
        x = features.astype(np.float32).astype(float)  # scikit-learn's trees split float32 values
        total = sum(tree.apply(x) for tree in self.trees)
        return np.asarray(total / len(self.trees))

    def column(self, role: str) -> int:
        return self.roles.index(role)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": "random-forest",
            "features": list(self.features),
            "roles": list(self.roles),
            "trees": [
                {
                    "feature": tree.feature.tolist(),
                    "threshold": tree.threshold.tolist(),  # exact: a rounded one can flip a split
                    "left": tree.left.tolist(),
                    "right": tree.right.tolist(),
                    "shares": np.round(tree.shares, _SHARE_DIGITS).tolist(),
                }
                for tree in self.trees
            ],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RoleModel:
        """Raises ValueError when the file was made for other features than this code computes."""
        features = tuple(str(name) for name in data["features"])
        if features != FEATURES:
            raise ValueError("the line-role model was fitted on other features: retrain it")
        trees = tuple(
            Tree(
                feature=np.asarray(tree["feature"], dtype=int),
                threshold=np.asarray(tree["threshold"], dtype=float),
                left=np.asarray(tree["left"], dtype=int),
                right=np.asarray(tree["right"], dtype=int),
                shares=np.asarray(tree["shares"], dtype=float),
            )
            for tree in data["trees"]
        )
        return cls(features, tuple(str(role) for role in data["roles"]), trees)


def training_matrix(images: Sequence[Image]) -> tuple[np.ndarray, np.ndarray]:
    """Features and role indexes of every line of ``images``."""
    blocks = [line_features(image.lines) for image in images if image.lines]
    labels = [ROLES.index(line.role) for image in images for line in image.lines]
    return np.vstack(blocks), np.asarray(labels)


def fit(images: Sequence[Image]) -> RoleModel:
    """The model of ``images``' labelled lines; the same images always give the same model."""
    from sklearn.ensemble import RandomForestClassifier

    x, y = training_matrix(images)
    forest = RandomForestClassifier(
        n_estimators=TREES,
        max_depth=DEPTH,
        min_samples_leaf=2,
        class_weight="balanced",
        random_state=_SEED,
        n_jobs=1,
    ).fit(x, y)
    classes = [int(c) for c in forest.classes_]
    trees = []
    for estimator in forest.estimators_:
        tree = estimator.tree_
        value = tree.value[:, 0, :]
        shares = np.zeros((tree.node_count, len(ROLES)))
        shares[:, classes] = value / np.maximum(value.sum(axis=1, keepdims=True), 1e-12)
        leaf = tree.children_left < 0
        trees.append(
            Tree(
                feature=np.where(leaf, -1, tree.feature).astype(int),
                threshold=np.where(leaf, 0.0, tree.threshold),
                left=tree.children_left.astype(int),
                right=tree.children_right.astype(int),
                shares=np.where(leaf[:, None], shares, 0.0),
            )
        )
    return RoleModel(FEATURES, ROLES, tuple(trees))


def save_model(model: RoleModel, path: Path = MODEL_FILE) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(model.to_json(), separators=(",", ":")) + "\n", encoding="utf-8")


def load_model(path: Path = MODEL_FILE) -> RoleModel:
    """The committed model (or another file written by ``save_model``)."""
    return RoleModel.from_json(json.loads(path.read_text(encoding="utf-8")))
