"""Every model documents what a user sets and what fit leaves behind (numpydoc), in full."""

import inspect

import pytest

import stance.models as zoo

CLASSES = [getattr(zoo, name) for name in zoo.__all__ if inspect.isclass(getattr(zoo, name))]


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_each_parameter_and_the_shared_attributes_are_documented(cls):
    doc = inspect.getdoc(cls)
    assert "%(" not in doc  # every shared text was filled in
    parameters = [name for name, p in inspect.signature(cls.__init__).parameters.items()
                  if name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    if parameters:
        section = doc.split("Parameters\n----------\n", 1)[1].split("\n\n", 1)[0]
        assert [p for p in parameters if f"\n{p} : " not in f"\n{section}"] == []
    if cls is not zoo.StanceClassifier:
        assert "classes_ : " in doc and "class_prior_ : " in doc
