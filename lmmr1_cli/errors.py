"""User-facing errors. The CLI prints their message on one line and exits non-zero; anything else is a bug."""


class Lmmr1Error(Exception):
    """Base class for errors caused by the user's input, files or environment (not by a bug in lmmr1)."""

    exit_code = 2


class ConfigError(Lmmr1Error):
    """A recipe, config file, override or option value is invalid."""


class DataError(Lmmr1Error):
    """A dataset file, row, field or image is invalid. The message names the file/row/field."""


class ModelError(Lmmr1Error):
    """A model directory, checkpoint or model id cannot be used."""


class OutputExistsError(Lmmr1Error):
    """The output location exists and --force was not given."""


class EnvironmentMissingError(Lmmr1Error):
    """An optional dependency or device (vLLM, CUDA) is needed but absent."""
