"""aksar.infer: Recognizer (checkpoint or ONNX), ONNX export with parity check, evaluation and reports.

Modules: ``recognizer`` (Recognizer, Prediction), ``onnx_model`` (metadata keys, onnxruntime runner,
numpy decoding of exported outputs), ``export`` (export_onnx), ``evaluate`` + ``report`` (aksar eval),
``images`` (safe image loading, predict inputs), ``config`` (InferConfig, EvalConfig).
Nothing is imported here, so ``import aksar.infer.config`` stays light.
"""
