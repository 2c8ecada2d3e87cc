"""redact_credentials and error_summary: no password or token reaches a log line or a message."""

import pytest

from serving.settings import error_summary, redact_credentials


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("postgresql://triage:s3cret@db.internal:5432/mlflow", "postgresql://***@db.internal:5432/mlflow"),
        ("mysql+pymysql://u:s3cret@h/db", "mysql+pymysql://***@h/db"),
        ("postgresql://u:p@ss@h/db", "postgresql://***@h/db"),  # an unescaped @ in the password
        ("API request to https://bob:s3cret@mlflow.example/api/2.0 failed", "API request to https://***@mlflow.example/api/2.0 failed"),
        ("https://:s3cret@host/", "https://***@host/"),
        ("s3://b/m?X-Amz-Signature=s3cret&X-Amz-Credential=s3cret&part=1", "s3://b/m?X-Amz-Signature=***&X-Amz-Credential=***&part=1"),
        ("https://a.blob.core.windows.net/c?sv=2020&sig=s3cret&se=1", "https://a.blob.core.windows.net/c?sv=2020&sig=***&se=1"),
        ("http://h/x?api_key=s3cret&token=s3cret", "http://h/x?api_key=***&token=***"),
    ],
)
def test_credentials_are_masked(text, expected):
    assert redact_credentials(text) == expected
    assert "s3cret" not in redact_credentials(text)


@pytest.mark.parametrize(
    "text",
    ["sqlite:////tmp/mlflow.db", "models:/ticket-triage@champion", "file:///tmp/a@b/c", "write to help@example.com",
     "runs:/abc/model", "/srv/models/v3"],
)
def test_text_without_credentials_is_unchanged(text):
    assert redact_credentials(text) == text


def test_error_summary_is_one_masked_line():
    error = ConnectionError("cannot reach postgresql://u:s3cret@db/x:\n  connection refused\n")
    assert error_summary(error) == "ConnectionError: cannot reach postgresql://***@db/x: connection refused"
    assert error_summary(ValueError()) == "ValueError"
    assert len(error_summary(ValueError("x" * 1000))) < 330


def test_error_summary_uses_mlflow_messages():
    from mlflow.exceptions import MlflowException

    error = MlflowException("API request to http://bob:s3cret@127.0.0.1:1/api failed")
    assert error_summary(error) == "MlflowException: API request to http://***@127.0.0.1:1/api failed"
