"""Reading `lassoboot-bench coverage --dump DIR` directories, shared by the coverage scripts."""
import json, os


def load_repetitions(dirs):
    """Each repetition's lassoboot.jsonl line with the directory holding its data (repN.csv), by
    repetition number. Several directories are pieces of one run with `--from`: a repetition
    found in more than one counts once, from the first."""
    reps = {}
    for d in dirs:
        for line in open(os.path.join(d, "lassoboot.jsonl")):
            r = json.loads(line)
            reps.setdefault(r["rep"], (d, r))
    return reps
