"""A quiet terminal for the commands (make run, make score): progress lines and the
result table, not TensorFlow's start-up noise. Call before anything imports TensorFlow."""
import contextlib
import os
import warnings


def quiet(enabled: bool) -> bool:
  """Silences TF's C++ log ("failed call to cuInit", ...) and library warnings, Beam
  worker processes too. Returns `enabled`, for native_stderr_silenced."""
  if enabled:
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    os.environ["PYTHONWARNINGS"] = "ignore"
    warnings.simplefilter("ignore")
  return enabled


@contextlib.contextmanager
def native_stderr_silenced(silenced: bool):
  """TensorFlow's shared libraries print start-up lines to file descriptor 2 ("Could not
  find cuda drivers ...") before any log level applies; silence that descriptor while
  they load (Python's own errors still reach sys.stderr once it is restored)."""
  if not silenced:
    yield
    return
  saved = os.dup(2)
  try:
    with open(os.devnull, "wb") as null:
      os.dup2(null.fileno(), 2)
      yield
  finally:
    os.dup2(saved, 2)
    os.close(saved)
