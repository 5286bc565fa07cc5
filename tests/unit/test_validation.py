"""Image references and Kubernetes quantities, parsed as the registries and the API server do."""

from decimal import Decimal

import pytest

from components.validation import parse_image, parse_quantity

DIGEST = "sha256:" + "a" * 64


@pytest.mark.parametrize(
    ("text", "repository", "tag", "digest"),
    [
        ("ghcr.io/acme/flutter-app:1.4.2", "ghcr.io/acme/flutter-app", "1.4.2", None),
        ("nginx:1.27", "nginx", "1.27", None),
        ("localhost:5000/app:dev-1", "localhost:5000/app", "dev-1", None),
        (
            f"123456789012.dkr.ecr.eu-west-1.amazonaws.com/app@{DIGEST}",
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com/app",
            None,
            DIGEST,
        ),
        (f"app:1.0@{DIGEST}", "app", "1.0", DIGEST),
    ],
)
def test_valid_image_references(text: str, repository: str, tag: str | None, digest: str | None) -> None:
    ref = parse_image(text)
    assert (ref.repository, ref.tag, ref.digest) == (repository, tag, digest)
    assert str(ref) == text


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("ghcr.io/acme/flutter-app", "no tag or digest"),
        ("Ghcr.io/Acme/App:1", "expected an image reference"),
        ("app:", "expected an image reference"),
        ("app:1.0@sha256:abc", "expected an image reference"),
        ("app with space:1", "expected an image reference"),
    ],
)
def test_invalid_image_references(text: str, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        parse_image(text)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("250m", Decimal("0.25")),
        ("2", Decimal(2)),
        ("512Mi", Decimal(512 * 2**20)),
        ("1G", Decimal(10**9)),
        (".5", Decimal("0.5")),
    ],
)
def test_quantities(text: str, value: Decimal) -> None:
    assert parse_quantity(text) == value


@pytest.mark.parametrize("text", ["", "1x", "-1", "1 Gi", "Mi"])
def test_invalid_quantities(text: str) -> None:
    with pytest.raises(ValueError, match="Kubernetes quantity"):
        parse_quantity(text)
