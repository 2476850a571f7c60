"""`make schema` drafts a curated schema for a user's own data, which the Kubeflow compile
then takes: the same task as `make run` decides, from the same data options."""
from kubeflow import kubeflow_runner
from pipeline import infer_schema, inputs
from pipeline.config import DataConfig

ROWS = [("a tense thriller with a twist", "thriller;drama"), ("laugh out loud all the way", "comedy"),
        ("a heartfelt family drama", "drama"), ("jokes and chases in space", "comedy;scifi"),
        ("robots take over the moon", "scifi"), ("a slow, sad story of loss", "drama")] * 5


def _write(path, rows):
  path.parent.mkdir(parents=True, exist_ok=True)
  path.write_text("plot,genres\n" + "".join(f'"{t}",{g}\n' for t, g in rows))


def test_a_draft_for_a_users_csv_declares_the_task_and_compiles(tmp_path, capsys):
  data = tmp_path / "elsewhere" / "movies"
  _write(data / "train.csv", ROWS)
  _write(data / "test.csv", ROWS[:12])
  out = tmp_path / "schemas" / "movies" / "schema.pbtxt"
  assert infer_schema.main(["--data", str(data), "--text-column", "plot", "--label-column", "genres",
                            "--label-delimiter", ";", "--out", str(out)]) == 0
  assert "multi-label, labels comedy, drama, scifi, thriller" in capsys.readouterr().out
  text = out.read_text()
  assert text.startswith("# Draft of the curated schema for pipeline 'movies'") and "value_count" in text
  columns = DataConfig(text_column="plot", label_column="genres", label_delimiter=";")
  task = inputs.task_from_schema(str(out), text_column="plot", label_column="genres", label_delimiter=";")
  assert (task.kind, task.labels) == ("multi-label", ("comedy", "drama", "scifi", "thriller"))
  spec = kubeflow_runner.compile_pipeline("img", "/data/movies", "/tfx", str(tmp_path / "spec.json"), name="movies",
                                          splits=("train=train.csv", "test=test.csv"), schema=str(out),
                                          columns=columns, schema_in_image="/mnt/movies/schema.pbtxt")
  assert "thriller" in open(spec).read()


def test_a_single_label_draft_has_one_label_per_row(tmp_path):
  data = tmp_path / "tickets.csv"
  _write(data, [(t, g.split(";")[0]) for t, g in ROWS])
  out = tmp_path / "s.pbtxt"
  path, task = infer_schema.draft(DataConfig(path=str(data), text_column="plot", label_column="genres"),
                                  out_path=str(out))
  assert task.kind == "multi-class" and "shape" in out.read_text() and "value_count" not in out.read_text()
  assert inputs.task_from_schema(path, text_column="plot", label_column="genres").labels == task.labels


def test_a_draft_never_overwrites_a_curated_schema(tmp_path, monkeypatch):
  monkeypatch.setattr(infer_schema, "REPO_ROOT", tmp_path)
  (tmp_path / "schemas" / "tickets").mkdir(parents=True)
  (tmp_path / "schemas" / "tickets" / "schema.pbtxt").write_text("# reviewed\n")
  data = tmp_path / "tickets.csv"
  _write(data, [(t, g.split(";")[0]) for t, g in ROWS])
  path, _ = infer_schema.draft(DataConfig(path=str(data), text_column="plot", label_column="genres"))
  assert path.endswith("schemas/tickets/schema.draft.pbtxt")
  assert (tmp_path / "schemas" / "tickets" / "schema.pbtxt").read_text() == "# reviewed\n"
