// Imported before onnxruntime-node by every module that loads it, so that these settings are in the
// environment when the native library initialises. ORT 1.29's telemetry crashes the process where no
// CA bundle exists (seen in the minimal container images) and otherwise tries HTTPS uploads; GenGap
// never wants it. A value the user set explicitly wins.
process.env.ORT_DISABLE_TELEMETRY ??= '1';
