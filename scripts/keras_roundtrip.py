"""Keras -> .keras -> tfjs-batchnorm -> .keras -> Keras: checks that a model survives the trip with
the same predictions. For each model (the committed real fixtures in test/fixtures/keras3/models,
plus any folders given), Keras 3 loads model.keras and predicts; this package loads the same
file and writes it back with saveKerasModel; Keras 3 loads what it wrote and predicts again.

Needs Python with keras==3.15.1, tensorflow-cpu==2.21.0 and h5py (a venv outside the project), and
the project's node_modules. Not part of `npm test` (CI has no Keras).

Usage: KERAS_PYTHON=/tmp/venv/bin/python npm run keras:roundtrip   (or: python scripts/keras_roundtrip.py [MODEL_DIR ...])"""
import json, os, subprocess, sys, tempfile
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import numpy as np
import keras

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "test", "fixtures", "keras3", "models")
NODE_STEP = (
    "import './src'; import { loadModel, saveKerasModel } from './src/io';"
    "(async () => { const m = await loadModel(process.argv[1]); await saveKerasModel(m, process.argv[2]); m.dispose(); })()"
    ".catch((e) => { console.error(e.message); process.exit(2); });")


def through_package(src, dst):
    cmd = ["npx", "ts-node", "--transpile-only", "-e", NODE_STEP, src, dst]
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if r.returncode != 0:
        return r.stderr.strip().splitlines()[-1] if r.stderr.strip() else f"exit {r.returncode}"
    return None


def main():
    dirs = sys.argv[1:] or [os.path.join(FIXTURES, d) for d in sorted(os.listdir(FIXTURES))]
    worst, failed = 0.0, 0
    with tempfile.TemporaryDirectory() as tmp:
        for d in dirs:
            name = os.path.basename(d.rstrip("/"))
            ref = json.load(open(os.path.join(d, "ref.json")))
            x = np.array(ref["x"], dtype="float32").reshape(ref["xshape"])
            before = keras.saving.load_model(os.path.join(d, "model.keras")).predict(x, verbose=0)
            out = os.path.join(tmp, name + ".keras")
            problem = through_package(os.path.join(d, "model.keras"), out)
            if problem:
                print(f"{name:16s} not written by the package: {problem}")
                failed += 1
                continue
            try:
                after = keras.saving.load_model(out).predict(x, verbose=0)
            except Exception as e:  # Keras refusing the written archive is the failure this script looks for.
                print(f"{name:16s} written, but Keras cannot load it: {str(e).splitlines()[0][:300]}")
                failed += 1
                continue
            diff = float(np.max(np.abs(np.asarray(after) - np.asarray(before))))
            scale = float(np.max(np.abs(before)))
            worst = max(worst, diff / scale)
            print(f"{name:16s} max abs diff {diff:.3e} (output scale {scale:.3g})")
    print(f"worst max abs diff / output scale: {worst:.3e}; {failed} model(s) not round-tripped")
    sys.exit(1 if failed or worst > 1e-6 else 0)


if __name__ == "__main__":
    main()
