"""The names runs share: tags, the out-of-fold predictions artifact, the longest param value.

Every module that reads or writes one of these uses the constant, never the string."""

#: Longest param value logged (MLflow limits value length; the full config is an artifact).
MAX_PARAM_LENGTH = 500
TAG_SWEEP = "stance.sweep"
TAG_MODEL = "stance.model"
TAG_FAMILY = "stance.family"
TAG_ROLE = "stance.role"
TAG_MODEL_URI = "stance.model_uri"
TAG_OVERRIDES = "stance.overrides"
TAG_SWEEP_COMPLETE = "stance.sweep_complete"  #: set on a sweep's parent run once every job has ended
OOF_PREDICTIONS = "oof_predictions.csv"  # every run's out-of-fold predictions, read by stance compare
# (stance.evaluation.yardstick.predictions_artifact("oof") names the same file; an external yardstick's are <name>_predictions.csv)
TAG_EVAL = "stance.eval"  #: the splitter a run was evaluated with (runs compare only within one)
TAG_VERSION = "stance.version"
TAG_ERROR = "stance.error"  #: why a run ended FAILED or KILLED
TAG_EXTRA_TRAIN = "stance.extra_train"
