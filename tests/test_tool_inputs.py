"""Bad inputs to the course tools and to the word2vec exercise's file flags: each gets one clear
sentence (a usage error, a refusal, a warning), never a traceback or a hang, and nothing of the
student's is lost: ``score`` on a malformed or unreadable file or without the MNIST labels,
``--corpus`` and ``--analogies`` of rnn/word2vec, a progress file that is a named pipe, ``build``
next to an edited skeleton, and ``list`` once a file that passed is put back."""

import contextlib
import os
import pathlib
import signal
import stat
import subprocess
import sys

import pytest

from conftest import git, repository_copy
from datasets import _download
from seminar import kaggle, manifest, runtime
from seminar.grader import checker
from seminar.tools import cli, skeleton
from seminar.tools import progress as saved_progress

REPO_ROOT = manifest.REPO_ROOT
EXERCISE = "intro/hello_world"
HEADER = "id," + ",".join(kaggle.class_columns())


@contextlib.contextmanager
def within(seconds: float):
    """Fail, instead of waiting for ever, when the block is still running after ``seconds``."""
    def stop(signum, frame):
        raise TimeoutError(f"still waiting after {seconds} s: it hangs")

    previous = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def fifo(path: pathlib.Path) -> pathlib.Path:
    os.mkfifo(path)
    return path


def one_line(text: str) -> str:
    """The only line of ``text``, after checking that it is one line and no traceback."""
    assert "Traceback" not in text, text
    lines = text.strip().splitlines()
    assert len(lines) == 1, text[:2000]
    return lines[0]


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    """A copy of the repository, committed in a git repository of its own (a student's clone)."""
    return repository_copy(tmp_path_factory.mktemp("inputs"))


def seminar(repo: pathlib.Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(repo))
    return subprocess.run([sys.executable, "-m", "seminar", *args], cwd=repo, env=env, text=True,
                          capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)


# ---------------------------------------------------------------- score


def submission_lines(rows: int = kaggle.PUBLIC_IDS) -> list[str]:
    return [HEADER] + [f"{i}," + ",".join(["0.1"] * 10) for i in range(1, rows + 1)]


def run_score(*args: str) -> subprocess.CompletedProcess:
    """``python -m seminar score ARGS`` in this repository, stopped after a minute."""
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    return subprocess.run([sys.executable, "-m", "seminar", "score", *args], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)


def score(path, *flags, capsys):
    status = cli.main(["score", str(path), *flags])
    out, err = capsys.readouterr()
    return status, out, err


def test_score_a_stray_quote_before_the_header(tmp_path, capsys):
    path = tmp_path / "submission.csv"
    path.write_text('"' + "\n".join(submission_lines()) + "\n")
    status, out, err = score(path, capsys=capsys)
    message = one_line(err)
    assert status == 1 and out == ""
    assert "line 1" in message and 'quote (")' in message and "never closed" in message
    assert "remove" in message


def test_score_a_quote_never_closed_in_a_short_file(tmp_path, capsys):
    path = tmp_path / "submission.csv"
    path.write_text('id,"class_0\n1,2\n')
    status, _, err = score(path, capsys=capsys)
    assert status == 1 and "never closed" in one_line(err)


def test_score_a_cell_of_200000_characters(tmp_path, capsys):
    path = tmp_path / "submission.csv"
    lines = submission_lines()
    lines[0] = "id," + "x" * 200_000
    path.write_text("\n".join(lines) + "\n")
    status, _, err = score(path, capsys=capsys)
    message = one_line(err)
    assert status == 1 and "line 1 is 200003 characters long" in message
    lines = submission_lines()
    lines[5] = "5," + "9" * 200_000 + ",0" * 9
    path.write_text("\n".join(lines) + "\n")
    status, _, err = score(path, capsys=capsys)
    assert status == 1 and "line 6 is 200020 characters long" in one_line(err)


@pytest.mark.parametrize("line", [b"x" * 50_000_000, b"0.1," * 12_500_000], ids=["one cell", "many cells"])
def test_score_a_50_megabyte_file_on_one_line(line, tmp_path):
    path = tmp_path / "submission.csv"
    path.write_bytes(line)
    result = run_score(str(path))
    message = one_line(result.stderr)
    assert result.returncode == 1 and "line 1 is 50000000 characters long" in message
    assert "DataFrame.to_csv(path, index=False)" in message


def test_score_a_ragged_line_names_it(tmp_path, capsys):
    path = tmp_path / "submission.csv"
    lines = submission_lines()
    lines[7] += ",0.0"
    path.write_text("\n".join(lines) + "\n")
    status, _, err = score(path, capsys=capsys)
    message = one_line(err)
    assert status == 1 and "line 8" in message and "12 cells" in message and "11" in message


def test_score_without_the_mnist_labels_gives_the_advice_and_no_traceback(tmp_path, monkeypatch,
                                                                         capsys):
    def unavailable():
        raise _download.DatasetUnavailable("Could not get a verified copy of the mnist data. Tried:\n"
                                           "  - nowhere\nWhat you can do:\n  - set SEMINAR_DATA_DIR")

    monkeypatch.setattr(kaggle, "_mnist", unavailable)
    path = tmp_path / "submission.csv"
    path.write_text("\n".join(submission_lines()) + "\n")
    status, out, err = score(path, capsys=capsys)
    assert status == 2 and out == "" and "Traceback" not in err
    first = err.splitlines()[0]
    assert first.startswith("error: ") and "MNIST test labels" in first
    assert "What you can do:\n  - set SEMINAR_DATA_DIR" in err


def test_score_refuses_a_named_pipe_as_labels(tmp_path):
    submission = tmp_path / "submission.csv"
    submission.write_text("id,class_a,class_b\nx,0.5,0.5\n")
    labels = fifo(tmp_path / "labels.csv")
    result = run_score(str(submission), "--labels", str(labels))
    message = one_line(result.stderr)
    assert result.returncode == 2
    assert message == (f"error: --labels {labels} is a named pipe (FIFO), not a regular file; give the "
                       f"id,label CSV file itself")


def test_score_refuses_a_named_pipe_as_the_submission(tmp_path):
    submission = fifo(tmp_path / "submission.csv")
    result = run_score(str(submission))
    assert result.returncode == 2 and "is a named pipe (FIFO), not a regular file" in one_line(result.stderr)
    # The scorer itself, as the checker calls it on what main() returns.
    with within(20), pytest.raises(kaggle.SubmissionError, match=r"is a named pipe \(FIFO\), not a regular"):
        kaggle.score(submission)


def test_labels_file_problems_are_errors_of_the_labels(tmp_path, capsys):
    submission = tmp_path / "submission.csv"
    submission.write_text("id,class_a,class_b\nx,0.5,0.5\n")
    labels = tmp_path / "labels.csv"
    labels.write_text('"id,label\nx,a\n')
    status, _, err = score(submission, "--labels", str(labels), capsys=capsys)
    message = one_line(err)
    assert status == 2 and message.startswith(f"error: --labels {labels}") and "never closed" in message
    status, _, err = score(submission, "--labels", str(tmp_path / "nowhere.csv"), capsys=capsys)
    assert status == 2 and one_line(err) == f"error: --labels {tmp_path / 'nowhere.csv'}: no such file"


# ---------------------------------------------------------------- word2vec's --corpus and --analogies


@pytest.fixture(scope="module")
def w2v():
    return checker.load_module(manifest.load().get("rnn/word2vec").solution_path)


@pytest.fixture
def no_training(monkeypatch):
    """Fail the test if the script gets as far as seeding, i.e. would go on to read and train."""
    def seeded(seed):
        raise AssertionError(f"set_seed({seed}) was reached: the bad input was not refused first")

    monkeypatch.setattr(runtime, "set_seed", seeded)


def refused(w2v, capsys, *flags: str) -> str:
    """Run the exercise's main() with ``flags``: it must stop with a usage error (exit 2) before
    training; return the error line."""
    with within(30), pytest.raises(SystemExit) as stopped:
        w2v.main([*flags, "--fast", "--quiet"])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err.strip().splitlines()[-1]


def good_questions(folder: pathlib.Path) -> pathlib.Path:
    path = folder / "questions.txt"
    path.write_text(": family\nking queen man woman\n")
    return path


def good_text(folder: pathlib.Path) -> pathlib.Path:
    path = folder / "text.txt"
    path.write_text("the king met the queen.\nthe man met the woman.\n" * 10)
    return path


@pytest.mark.parametrize("flag", ["--corpus", "--analogies"])
def test_word2vec_a_missing_file_a_folder_or_a_pipe(flag, w2v, tmp_path, no_training, capsys):
    missing = tmp_path / "nowhere.txt"
    assert refused(w2v, capsys, flag, str(missing)).endswith(f"error: argument {flag}: {missing}: no such file")
    assert f"error: argument {flag}: {tmp_path} is a directory, not a regular file; give " in refused(
        w2v, capsys, flag, str(tmp_path))
    pipe = fifo(tmp_path / "pipe.txt")
    assert f"error: argument {flag}: {pipe} is a named pipe (FIFO), not a regular file; give " in refused(
        w2v, capsys, flag, str(pipe))


@pytest.mark.parametrize("content", ["", "...\n?!\n"], ids=["empty", "no words"])
def test_word2vec_an_empty_corpus(content, w2v, tmp_path, no_training, capsys):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(content)
    assert refused(w2v, capsys, "--corpus", str(corpus)).endswith(
        f"error: argument --corpus: {corpus}: no words found; give a plain-text file")


def test_word2vec_a_one_word_corpus(w2v, tmp_path, no_training, capsys):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("hello\n" * 10)
    message = refused(w2v, capsys, "--corpus", str(corpus))
    assert f"--corpus {corpus} with --min-count 5: only one word, 'hello'," in message
    assert "give a smaller --min-count or a longer text" in message


def test_word2vec_every_word_below_min_count(w2v, tmp_path, no_training, capsys):
    corpus = good_text(tmp_path)
    message = refused(w2v, capsys, "--corpus", str(corpus), "--min-count", "100")
    assert f"--corpus {corpus} with --min-count 100: no word occurs 100 times or more" in message
    assert "(the most frequent, 'the', 40 times)" in message
    # The order of the flags does not matter: --min-count given first is seen too.
    assert message == refused(w2v, capsys, "--min-count", "100", "--corpus", str(corpus))


def test_word2vec_a_later_min_count_is_the_one_that_counts(w2v, tmp_path, no_training):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("a rare pair of words\n")  # each word once: below the default of 5
    with pytest.raises(AssertionError, match="set_seed"):  # accepted: it goes on to seed
        w2v.main(["--corpus", str(corpus), "--min-count", "1", "--fast", "--quiet"])


def test_word2vec_no_sentence_with_two_known_words(w2v, tmp_path, no_training, capsys):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("hello.\nworld.\n" * 3)
    message = refused(w2v, capsys, "--corpus", str(corpus), "--min-count", "1")
    assert "no sentence holds two words seen once or more" in message


def test_word2vec_a_malformed_analogy_line(w2v, tmp_path, no_training, capsys):
    questions = tmp_path / "questions.txt"
    questions.write_text(": family\nboy girl brother\n")
    assert refused(w2v, capsys, "--analogies", str(questions)).endswith(
        f"error: argument --analogies: {questions}, line 2: an analogy line holds four words "
        f"(a b c d: a is to b as c is to d), got 'boy girl brother'")


def test_word2vec_a_binary_analogies_file(w2v, tmp_path, no_training, capsys):
    questions = tmp_path / "questions.txt"
    questions.write_bytes(bytes(range(256)) * 4)
    message = refused(w2v, capsys, "--analogies", str(questions))
    assert message.endswith(f"error: argument --analogies: {questions} is not a text file (it holds "
                            f"NUL bytes); give a file in the questions-words.txt format")
    # Latin-1 text without NUL bytes is read, its bad bytes replaced, as the corpus reader does.
    questions.write_bytes(": family\nk\xf6nig k\xf6nigin man woman\n".encode("latin-1"))
    with pytest.raises(AssertionError, match="set_seed"):
        w2v.main(["--analogies", str(questions), "--fast", "--quiet"])


def test_word2vec_good_files_are_trained_on(w2v, tmp_path):
    metrics = w2v.main(["--corpus", str(good_text(tmp_path)), "--analogies", str(good_questions(tmp_path)),
                        "--min-count", "1", "--epochs", "1", "--quiet",
                        "--output-dir", str(tmp_path / "out")])
    assert metrics["questions_total"] == 1 and metrics["questions_answered"] == 1
    assert set(metrics["vocabulary"]) == {"the", "king", "met", "queen", "man", "woman"}


# ---------------------------------------------------------------- the progress file


def test_a_named_pipe_as_the_progress_file_warns_once_and_is_never_written(progress_file, capsys):
    fifo(progress_file)
    with within(20):
        assert cli.main(["list"]) == 0
    out, err = capsys.readouterr()
    warning = one_line(err)
    assert warning.startswith("warning: ") and str(progress_file) in warning
    assert "not a regular file" in warning and "0/" in out
    with within(20):
        assert cli.main(["hint", EXERCISE]) == 0
    out, err = capsys.readouterr()
    assert "Hint 1/" in out and "Traceback" not in err
    assert stat.S_ISFIFO(progress_file.lstat().st_mode), "the pipe is left as it was"


# ---------------------------------------------------------------- list after a file is put back


def listed(repo: pathlib.Path, exercise_id: str) -> str:
    result = seminar(repo, "list")
    assert result.returncode == 0, result.stderr
    return next(line for line in result.stdout.splitlines() if f" {exercise_id} " in line).strip()


def test_list_putting_back_the_file_that_passed_shows_it_passing(repo):
    exercise = manifest.load().get("neural_nets/softmax")
    exo, progress_path = repo / exercise.exercise, repo / ".seminar-progress.json"
    passing = (repo / exercise.solution).read_bytes()
    exo.write_bytes(passing)
    saved_progress.record_status(exercise.id, "passing", progress_path,
                                 digest=saved_progress.file_digest(exo))
    exo.write_bytes(passing + b"\n# trying something\n")
    saved_progress.record_status(exercise.id, "failing", progress_path,
                                 digest=saved_progress.file_digest(exo))
    assert listed(repo, exercise.id).startswith("[!]")
    exo.write_bytes(passing)  # undone, byte for byte (a new modification time, the same bytes)
    line = listed(repo, exercise.id)
    assert line.startswith("[x]") and "passing" in line and "changed" not in line
    exo.write_bytes(passing + b"\n# something else\n")
    line = listed(repo, exercise.id)
    assert line.startswith("[~]") and "changed since its failing check" in line


# ---------------------------------------------------------------- build next to an edited skeleton


def skeleton_text(repo: pathlib.Path, exercise_id: str) -> str:
    exercise = manifest.load().get(exercise_id)
    return skeleton.build((repo / exercise.solution).read_text(encoding="utf-8"), exercise.id,
                          exercise.solution)


def backups(path: pathlib.Path) -> list[pathlib.Path]:
    return sorted(path.parent.glob(path.name + ".bak-*"))


def test_build_leaves_a_committed_edited_skeleton_alone(repo):
    """Unchanged since the last commit is not unedited: a student may commit their own work."""
    exo = repo / "sgd" / "binary_classif_exo.py"
    work = exo.read_text() + "\n# my own work, committed\n"
    exo.write_text(work)
    git(repo, "commit", "-q", "-m", "my work", "--", "sgd/binary_classif_exo.py")
    result = seminar(repo, "build", "sgd/binary_classif")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "left alone: sgd/binary_classif_exo.py" in result.stdout
    assert "python -m seminar build sgd/binary_classif --force" in result.stdout
    assert exo.read_text() == work and backups(exo) == []


def test_build_force_needs_the_ids_it_replaces(repo):
    exo = repo / "sgd" / "linear_regression_exo.py"
    work = exo.read_text() + "\n# my notes\n"
    exo.write_text(work)
    result = seminar(repo, "build", "--force")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "--force replaces only the skeletons named" in result.stderr
    assert exo.read_text() == work


def test_build_force_on_one_file_keeps_a_backup_byte_for_byte(repo):
    exo = repo / "intro" / "hello_world_exo.py"
    work = "# café, saved in Latin-1\nx = 1\n".encode("latin-1") + b"\x80\xff\n"
    exo.write_bytes(work)
    result = seminar(repo, "build", EXERCISE)
    assert result.returncode == 1 and "left alone: intro/hello_world_exo.py" in result.stdout
    assert exo.read_bytes() == work
    result = seminar(repo, "build", EXERCISE, "--force")
    assert result.returncode == 0, result.stdout + result.stderr
    kept = backups(exo)
    assert len(kept) == 1 and kept[0].read_bytes() == work
    assert f"kept as {kept[0].relative_to(repo)}" in result.stdout
    assert exo.read_text() == skeleton_text(repo, EXERCISE)
    # Once generated, the skeleton is the build's own again: no second backup.
    assert seminar(repo, "build", EXERCISE, "--force").returncode == 0 and len(backups(exo)) == 1


def test_build_rebuilds_a_stale_skeleton_no_one_edited(repo):
    """A maintainer changed the solution: its skeleton is the committed solution's, so rebuilt."""
    solution = repo / "solutions" / "intro" / "math_ops.py"
    exo = repo / "intro" / "math_ops_exo.py"
    committed = solution.read_text()
    git(repo, "checkout", "-q", "--", "intro/math_ops_exo.py")
    assert exo.read_text() == skeleton_text(repo, "intro/math_ops")
    solution.write_text(committed + "\n# a maintainer's afterthought\n")
    result = seminar(repo, "build", "intro/math_ops")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "wrote intro/math_ops_exo.py" in result.stdout and backups(exo) == []
    assert exo.read_text().endswith("# a maintainer's afterthought\n")
    # Changed again and edited by hand since: refused, though the solution changed too.
    solution.write_text(committed + "\n# a second thought\n")
    exo.write_text(exo.read_text() + "# and a student's note\n")
    result = seminar(repo, "build", "intro/math_ops")
    assert result.returncode == 1 and "left alone: intro/math_ops_exo.py" in result.stdout
    solution.write_text(committed)
