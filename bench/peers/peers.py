"""The peer benchmark: Strata against TensorFlow (tf.function), tf-keras (fit) and ONNX
Runtime (its C API; its Python API for reference), interleaved round by round, printing
ratio = peer time / Strata time (> 1: Strata faster) as ranges over the rounds.

Run through scripts/bench-peers.sh, which makes the pinned venv, the models and the
runners. Directly:

    python peers.py --models DIR --build BUILD_DIR --ort-lib LIBONNXRUNTIME_SO [--quick] [--json OUT]

Each contender is a long-lived worker process (Strata: strata_bench_peers_strata; ORT C:
strata_bench_peers_ort; TensorFlow / tf-keras / ORT Python: this file with --worker), so a
round only times the calls: in every round each row's contenders run back to back, the
order alternating between rounds. Everything runs on 1 thread (STRATA_NUM_THREADS=1, ORT
intra_op_num_threads=1, TF intra/inter op 1) unless a row says otherwise.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


# ---------------------------------------------------------------------------------------
# The Python worker: TensorFlow tf.function, tf-keras fit, ONNX Runtime's Python API.

def worker_main(threads):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    import numpy as np
    import onnxruntime as ort
    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1 if threads == 1 else 2)
    import tf_keras as keras

    models, functions, sessions = {}, {}, {}

    def keras_model(path, compile_):
        key = (path, compile_)
        if key not in models:
            models[key] = keras.models.load_model(path, compile=compile_)
        return models[key]

    def timed(reps, f):
        f()
        times = []
        for _ in range(reps):
            t0 = time.perf_counter()
            f()
            times.append(time.perf_counter() - t0)
        return {"median": statistics.median(times), "min": min(times)}

    def handle(c):
        cmd = c["cmd"]
        if cmd == "versions":
            import onnx
            return {"tensorflow": tf.__version__, "tf_keras": keras.__version__, "onnxruntime": ort.__version__,
                    "onnx": onnx.__version__, "numpy": np.__version__, "python": sys.version.split()[0]}
        rng = np.random.default_rng(1)
        if cmd == "tf_function":
            model = keras_model(c["model"], False)
            if c["model"] not in functions:
                functions[c["model"]] = tf.function(lambda x, m=model: m(x, training=False))
            f = functions[c["model"]]
            x = tf.constant(rng.random((c["batch"],) + tuple(model.input_shape[1:]), dtype=np.float32))
            return timed(c["reps"], lambda: f(x).numpy())
        if cmd == "keras_fit":
            model = keras_model(c["model"], True)
            n = c["samples"]
            x = rng.random((n,) + tuple(model.input_shape[1:]), dtype=np.float32)
            y = (np.arange(n) * 7 % 10).astype(np.int64)
            return timed(c["reps"], lambda: model.fit(x, y, batch_size=c["batch"], epochs=1, verbose=0, shuffle=False))
        if cmd == "ort_python":
            if c["model"] not in sessions:
                options = ort.SessionOptions()
                options.intra_op_num_threads = threads
                options.inter_op_num_threads = 1
                sessions[c["model"]] = ort.InferenceSession(c["model"], options, providers=["CPUExecutionProvider"])
            s = sessions[c["model"]]
            x = rng.random(tuple(c["shape"]), dtype=np.float32)
            feed, out = {c["input"]: x}, [c["output"]]
            return timed(c["reps"], lambda: s.run(out, feed))
        raise ValueError(f"unknown command {cmd!r}")

    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            reply = handle(json.loads(line))
        except Exception as e:  # noqa: BLE001 - reported to the driver
            reply = {"error": f"{type(e).__name__}: {e}"}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


# ---------------------------------------------------------------------------------------
# The driver.

class Worker:
    log = None  # the workers' stderr (TensorFlow's start-up chatter among it): MODELS/peers-workers.log

    def __init__(self, argv, env_threads, json_protocol=True):
        # 1 thread: each runtime's own setting (Strata's STRATA_NUM_THREADS, OpenMP's count
        # for the Python peers, which also set theirs in-process). 2 threads: Strata runs with
        # the defaults a user has (no thread or wait-policy variable: the governor decides).
        env = {k: v for k, v in os.environ.items()
               if k not in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "STRATA_NUM_THREADS")}
        env["TF_CPP_MIN_LOG_LEVEL"] = "3"
        if env_threads == 1:
            env.update(OMP_NUM_THREADS="1", STRATA_NUM_THREADS="1")
        self.json = json_protocol
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=Worker.log, env=env,
                                     text=True, bufsize=1)

    def ask(self, message):
        self.proc.stdin.write((json.dumps(message) if self.json else message) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"worker {self.proc.args[0]} died (its stderr: {Worker.log.name})")
        if self.json:
            reply = json.loads(line)
            if "error" in reply:
                raise RuntimeError(f"{self.proc.args[0]}: {reply['error']}")
            return reply
        if line.startswith("error"):
            raise RuntimeError(f"ORT runner: {line.strip()}")
        return line.split()

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


class Ort:
    """The C API runner: sessions loaded once per (model, threads)."""

    def __init__(self, argv):
        self.w = Worker(argv, 1, json_protocol=False)
        self.loaded = set()

    def version(self):
        return self.w.ask("version")[0]

    def run(self, path, names, shape, reps, threads=1):
        key = f"{os.path.basename(path)}_{threads}"
        if key not in self.loaded:
            self.w.ask(f"load {key} {path} {threads}")
            self.loaded.add(key)
        median, _ = self.w.ask(f"run {key} {names['input']} {names['output']} {reps} " + " ".join(map(str, shape)))
        return float(median)


class Hog:
    """A CPU-bound neighbour process holding one core while it lives."""

    def __enter__(self):
        self.p = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        time.sleep(0.2)
        return self

    def __exit__(self, *exc):
        self.p.kill()
        self.p.wait()


def wall(argv, env=None):
    """Wall seconds and peak RSS (KiB) of one child process."""
    t0 = time.perf_counter()
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    _, status, usage = os.wait4(p.pid, 0)
    elapsed = time.perf_counter() - t0
    if status != 0:
        raise RuntimeError(f"{argv} exited with {status}")
    return elapsed, usage.ru_maxrss


def without_cuda_tree(build, dest):
    """A copy of the build's runtime library and plugin directory without backend-cuda: with
    LD_LIBRARY_PATH=dest/lib (searched before the CLI's RUNPATH) the CLI loads this libstrata,
    whose default plugin directory is dest/lib/strata/plugins. None when backend-cuda is not
    built (then there is nothing to compare)."""
    import glob
    import shutil
    plugins = os.path.join(build, "lib", "strata", "plugins")
    if not os.path.exists(os.path.join(plugins, "strata-backend-cuda.so")):
        return None
    shutil.rmtree(dest, ignore_errors=True)
    os.makedirs(os.path.join(dest, "lib", "strata", "plugins"))
    for f in glob.glob(os.path.join(build, "lib", "lib*.so*")):
        shutil.copy2(f, os.path.join(dest, "lib"), follow_symlinks=False)
    for f in glob.glob(os.path.join(plugins, "*.so")):
        if not f.endswith("strata-backend-cuda.so"):
            shutil.copy2(f, os.path.join(dest, "lib", "strata", "plugins"))
    return os.path.join(dest, "lib")


def fmt_range(values, digits=2):
    values = sorted(values)
    lo, hi, med = values[0], values[-1], statistics.median(values)
    return f"{lo:.{digits}f}–{hi:.{digits}f} (median {med:.{digits}f})"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--models", required=True)
    p.add_argument("--build", required=True)
    p.add_argument("--ort-lib", required=True)
    p.add_argument("--quick", action="store_true", help="3 rounds, fewer repetitions, no batch-32 applications")
    p.add_argument("--rounds", type=int)
    p.add_argument("--no-apps", action="store_true")
    p.add_argument("--json", help="write every round's figures here")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        return worker_main(args.threads)

    rounds = args.rounds or (3 if args.quick else 7)
    q = args.quick
    M = lambda name: os.path.join(args.models, name)  # noqa: E731
    manifest = json.load(open(M("manifest.json")))
    bin_ = lambda name: os.path.join(args.build, "bin", name)  # noqa: E731
    strata_cli = bin_("strata")

    Worker.log = open(M("peers-workers.log"), "w")
    py = [sys.executable, os.path.abspath(__file__), "--worker", "--models", args.models, "--build", args.build,
          "--ort-lib", args.ort_lib]
    S1 = Worker([bin_("strata_bench_peers_strata")], 1)
    S2 = Worker([bin_("strata_bench_peers_strata")], 2)
    P1 = Worker(py + ["--threads", "1"], 1)
    P2 = Worker(py + ["--threads", "2"], 2)
    O = Ort([bin_("strata_bench_peers_ort"), args.ort_lib])
    versions = P1.ask({"cmd": "versions"})
    versions["onnxruntime_c"] = O.version()
    versions["strata"] = S1.ask({"cmd": "version"})["version"]
    versions["tf2onnx"] = manifest["versions"].get("tf2onnx")

    mlp, cnn = manifest["models"]["mlp"]["onnx"], manifest["models"]["cnn"]["onnx"]
    b1_reps, big_reps = (500, 3) if q else (3000, 10)
    fit_samples = 2048 if q else 8192
    # fit against train_on_batch compares Strata with itself, within a few percent: one epoch
    # a round (32 steps at batch 256) spread ±5% between rounds, so each round takes the
    # median of several.
    epoch_reps = 3 if q else 9

    def sp(worker, model, mode, batch, reps):
        return worker.ask({"cmd": "predict", "model": M(model), "mode": mode, "batch": batch, "reps": reps})["median"]

    def sfit(worker, how, batch, reps=1):
        return worker.ask({"cmd": "fit", "model": M("mlp.h5"), "how": how, "batch": batch, "samples": fit_samples,
                           "reps": reps})["median"]

    def kfit(worker, batch, reps=1):
        return worker.ask({"cmd": "keras_fit", "model": M("mlp.h5"), "batch": batch, "samples": fit_samples,
                           "reps": reps})["median"]

    def tff(worker, model, batch, reps):
        return worker.ask({"cmd": "tf_function", "model": M(model), "batch": batch, "reps": reps})["median"]

    def ortpy(worker, model, names, shape, reps):
        return worker.ask({"cmd": "ort_python", "model": M(model), "input": names["input"], "output": names["output"],
                           "shape": shape, "reps": reps})["median"]

    # Each row: name, target, [(label, thunk)] timed back to back; ratio(figures) -> value.
    pairs = [
        ("batch-1 MLP 784-64-64-10, traced graph vs ORT C API", "≥ 1.0, aim 1.4",
         {"strata": lambda: sp(S1, "mlp_savedmodel", "traced", 1, b1_reps),
          "ort": lambda: O.run(M("mlp.onnx"), mlp, [1, 784], b1_reps)}, "ort", "strata"),
        ("batch-1 MLP, eager predict vs ORT C API", "≥ 0.8",
         {"strata": lambda: sp(S1, "mlp.h5", "predict", 1, b1_reps),
          "ort": lambda: O.run(M("mlp.onnx"), mlp, [1, 784], b1_reps)}, "ort", "strata"),
        ("batch-1 MLP, ORT Python API vs ORT C API (the Python per-call overhead; reference)", "-",
         {"ort_c": lambda: O.run(M("mlp.onnx"), mlp, [1, 784], b1_reps),
          "ort_py": lambda: ortpy(P1, "mlp.onnx", mlp, [1, 784], b1_reps)}, "ort_py", "ort_c"),
        ("batch-1024 CNN, eager predict vs ORT C API", "≥ 1.2",
         {"strata": lambda: sp(S1, "cnn.h5", "predict", 1024, big_reps),
          "ort": lambda: O.run(M("cnn.onnx"), cnn, [1024, 28, 28, 1], big_reps)}, "ort", "strata"),
        ("batch-1024 CNN, eager predict vs TF tf.function", "≥ 1.5",
         {"strata": lambda: sp(S1, "cnn.h5", "predict", 1024, big_reps),
          "tf": lambda: tff(P1, "cnn.h5", 1024, big_reps)}, "tf", "strata"),
        ("training, fit vs tf-keras fit, MLP batch 32", "≥ 3",
         {"strata": lambda: sfit(S1, "fit", 32), "tf_keras": lambda: kfit(P1, 32)}, "tf_keras", "strata"),
        ("training, fit vs tf-keras fit, MLP batch 256", "≥ 1.2",
         {"strata": lambda: sfit(S1, "fit", 256), "tf_keras": lambda: kfit(P1, 256)}, "tf_keras", "strata"),
        ("fit epoch ÷ the same steps through train_on_batch, batch 256 (Strata vs Strata; < 1: fit faster)", "≤ 1.05",
         {"fit": lambda: sfit(S1, "fit", 256, epoch_reps),
          "train_on_batch": lambda: sfit(S1, "train_on_batch", 256, epoch_reps)},
         "fit", "train_on_batch"),
        ("fit epoch ÷ the same steps through train_on_batch, batch 32", "≤ 1.05",
         {"fit": lambda: sfit(S1, "fit", 32, epoch_reps),
          "train_on_batch": lambda: sfit(S1, "train_on_batch", 32, epoch_reps)},
         "fit", "train_on_batch"),
        ("C API strata_model_predict ÷ C++ predict, batch 1 (Strata vs Strata; > 1: C API slower)", "≤ 1.1",
         {"capi": lambda: sp(S1, "mlp.h5", "capi", 1, b1_reps), "cpp": lambda: sp(S1, "mlp.h5", "predict", 1, b1_reps)},
         "capi", "cpp"),
    ]
    if not args.no_apps:
        for app in ("resnet50", "mobilenetv2"):
            entry = manifest["models"].get(app)
            if entry is None:
                continue
            for batch in ([1] if q else [1, 32]):
                reps = (3 if batch == 1 else 1) if q else (10 if batch == 1 else 2)
                thunks = {"strata": lambda a=app, b=batch, r=reps: sp(S1, a + ".h5", "predict", b, r),
                          "tf": lambda a=app, b=batch, r=reps: tff(P1, a + ".h5", b, r)}
                pairs.append((f"{app} batch {batch}, predict vs TF tf.function", "-", dict(thunks), "tf", "strata"))
                if "onnx" in entry:
                    thunks2 = {"strata": thunks["strata"],
                               "ort": lambda a=app, b=batch, r=reps, n=entry["onnx"]: O.run(
                                   M(a + ".onnx"), n, [b, 224, 224, 3], r)}
                    pairs.append((f"{app} batch {batch}, predict vs ORT C API", "-", thunks2, "ort", "strata"))

    # The busy machine: 2 threads, idle vs with a CPU-bound neighbour holding one core.
    busy_cases = {
        "strata traced MLP b1024": lambda w: sp(w, "mlp_savedmodel", "traced", 1024, 20 if q else 50),
        "strata fit MLP b256": lambda w: sfit(w, "fit", 256),
        "ort C MLP b1024": lambda t: O.run(M("mlp.onnx"), mlp, [1024, 784], 20 if q else 50, threads=t),
        "tf tf.function MLP b1024": lambda w: tff(w, "mlp.h5", 1024, 20 if q else 50),
        "tf-keras fit MLP b256": lambda w: kfit(w, 256),
    }
    busy_args = {"strata traced MLP b1024": (S2, S1), "strata fit MLP b256": (S2, S1), "ort C MLP b1024": (2, 1),
                 "tf tf.function MLP b1024": (P2, P1), "tf-keras fit MLP b256": (P2, P1)}

    figures = {name: {k: [] for k in thunks} for name, _, thunks, _, _ in pairs}
    busy = {name: {"idle2": [], "busy2": [], "busy1": []} for name in busy_cases}
    startup = {"plugins": [], "info_small": [], "info_big": [], "info_big_rss_kib": [], "plugins_no_cuda": [],
               "info_small_no_cuda": []}
    saves, peaks = [], []
    failures = {}
    env = dict(os.environ, OMP_NUM_THREADS="1", STRATA_NUM_THREADS="1")
    no_cuda_lib = without_cuda_tree(args.build, M("without-cuda"))
    env_no_cuda = dict(env, LD_LIBRARY_PATH=no_cuda_lib) if no_cuda_lib else None

    for r in range(rounds):
        t_round = time.time()
        for name, _, thunks, _, _ in pairs:
            order = list(thunks) if r % 2 == 0 else list(reversed(list(thunks)))
            for k in order:
                try:
                    figures[name][k].append(thunks[k]())
                except RuntimeError as e:  # a model one contender cannot run: the row says so
                    figures[name][k].append(float("nan"))
                    failures.setdefault(name, f"{k}: " + " ".join(str(e).split())[:200])
        for name, f in busy_cases.items():
            two, one = busy_args[name]
            busy[name]["idle2"].append(f(two))
            with Hog():
                busy[name]["busy2"].append(f(two))
                busy[name]["busy1"].append(f(one))
        n = 3 if q else 5
        startup["plugins"].append(statistics.median(wall([strata_cli, "plugins"], env)[0] for _ in range(n)))
        startup["info_small"].append(statistics.median(
            wall([strata_cli, "info", M("mlp.h5")], env)[0] for _ in range(n)))
        if env_no_cuda:
            startup["plugins_no_cuda"].append(statistics.median(
                wall([strata_cli, "plugins"], env_no_cuda)[0] for _ in range(n)))
            startup["info_small_no_cuda"].append(statistics.median(
                wall([strata_cli, "info", M("mlp.h5")], env_no_cuda)[0] for _ in range(n)))
        if os.path.exists(M("big.h5")):
            t, rss = wall([strata_cli, "info", M("big.h5")], env)
            startup["info_big"].append(t)
            startup["info_big_rss_kib"].append(rss)
            saves.append(S1.ask({"cmd": "save", "model": M("big.h5"), "dir": os.path.join(args.models, "saves"),
                                 "reps": 1}))
            out = subprocess.run([bin_("strata_bench_peers_strata"), "--peak", M("big.h5")], env=env,
                                 capture_output=True, text=True, check=True).stdout
            peaks.append(json.loads(out.strip().splitlines()[-1]))
        print(f"round {r + 1}/{rounds} done in {time.time() - t_round:.0f} s", file=sys.stderr, flush=True)

    for w in (S1, S2, P1, P2, O.w):
        w.close()

    # Report.
    print(f"Peer benchmark: {rounds} interleaved rounds{' (quick)' if q else ''}, 1 thread unless a row says; "
          f"ratio = peer time ÷ Strata time (> 1: Strata faster), range over rounds")
    print("versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end\n")
    print(f"{'case':<100} {'ratio':<34} target   times (median, µs)")
    for name, target, thunks, num, den in pairs:
        f = figures[name]
        if name in failures:
            print(f"{name:<100} not measured: {failures[name]}")
            continue
        ratios = [a / b for a, b in zip(f[num], f[den])]
        times = ", ".join(f"{k} {statistics.median(v) * 1e6:.1f}" for k, v in f.items())
        print(f"{name:<100} {fmt_range(ratios):<34} {target:<8} {times}")
    print("\nBusy machine: 2 threads, a CPU-bound neighbour process holding one core")
    print(f"{'case':<28} {'busy ÷ idle speed (2 thr)':<34} {'2 thr busy vs 1 thr busy':<34} (targets: ≥ 0.5 of idle; "
          "≥ 1, never slower than 1 thread)")
    for name, b in busy.items():
        frac = [i / s for i, s in zip(b["idle2"], b["busy2"])]
        vs1 = [o / t for o, t in zip(b["busy1"], b["busy2"])]
        print(f"{name:<28} {fmt_range(frac):<34} {fmt_range(vs1):<34} times (median, ms): idle 2 thr "
              f"{statistics.median(b['idle2']) * 1e3:.2f}, busy 2 thr {statistics.median(b['busy2']) * 1e3:.2f}, "
              f"busy 1 thr {statistics.median(b['busy1']) * 1e3:.2f}")
    for peer, strata_case in [("ort C MLP b1024", "strata traced MLP b1024"),
                              ("tf tf.function MLP b1024", "strata traced MLP b1024"),
                              ("tf-keras fit MLP b256", "strata fit MLP b256")]:
        ratios = [p / s for p, s in zip(busy[peer]["busy2"], busy[strata_case]["busy2"])]
        print(f"  busy, 2 threads: {peer} ÷ {strata_case}: {fmt_range(ratios)}")
    print("\nStart-up and files (absolute; no peer)")
    print(f"  strata plugins:                     {fmt_range([t * 1e3 for t in startup['plugins']], 1)} ms "
          "(target ≤ 30 ms)")
    print(f"  strata info of a small H5 (MLP):    {fmt_range([t * 1e3 for t in startup['info_small']], 1)} ms "
          "(target ≤ 50 ms)")
    if startup["plugins_no_cuda"]:
        for key, what in [("plugins", "strata plugins"), ("info_small", "strata info of the small H5")]:
            ratios = [a / b for a, b in zip(startup[key], startup[key + "_no_cuda"])]
            print(f"  {what}, with ÷ without backend-cuda: {fmt_range(ratios)} (target ≤ 1.3; without: "
                  f"{statistics.median(startup[key + '_no_cuda']) * 1e3:.1f} ms)")
    else:
        print("  with ÷ without backend-cuda: not measured (backend-cuda is not built in this build directory)")
    if startup["info_big"]:
        mb = manifest["models"]["big"]["bytes"] / 1e6
        print(f"  strata info of a {mb:.0f} MB H5:        {fmt_range([t * 1e3 for t in startup['info_big']], 1)} ms, "
              f"peak RSS {fmt_range([k / 1024 for k in startup['info_big_rss_kib']], 0)} MiB (target ≤ 50 ms)")
        print(f"  H5 save vs raw atomic write ({saves[0]['bytes'] / 1e6:.0f} MB): ratio raw ÷ save "
              f"{fmt_range([s['raw'] / s['save'] for s in saves])} (target ≥ 0.8); save "
              f"{statistics.median(s['save'] for s in saves):.2f} s, raw {statistics.median(s['raw'] for s in saves):.2f} s")
        print(f"  peak memory, load the 100M-param H5 + predict once: VmHWM ÷ parameter bytes "
              f"{fmt_range([pk['vmhwm_kib'] * 1024 / pk['param_bytes'] for pk in peaks])} model copies "
              f"((VmHWM − RSS after start-up) ÷ parameter bytes "
              f"{fmt_range([(pk['vmhwm_kib'] - pk['rss_after_init_kib']) * 1024 / pk['param_bytes'] for pk in peaks])}; "
              f"target ≤ 1.05)")
    for app in ("resnet50", "mobilenetv2"):
        e = manifest["models"].get(app, {})
        if "onnx_error" in e:
            print(f"  {app}: tf2onnx did not convert it ({e['onnx_error']}); compared against TF only")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"versions": versions, "rounds": rounds, "pairs": figures, "failures": failures, "busy": busy, "startup": startup,
                       "saves": saves, "peaks": peaks}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
