# The two commands a newcomer needs:  make run   and   make test
# Each builds (or reuses) the environment first; see scripts/env.sh.
ENV := scripts/env.sh
PYTEST_ARGS ?=
# Test modules run on 2 pytest-xdist workers, each module whole on one worker (its
# module-scoped pipeline runs happen once), the slow ones first (tests/conftest.py);
# TEST_WORKERS=0 runs them in this process.
TEST_WORKERS ?= 2
XDIST = -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

.PHONY: setup setup-test run run-beam run-portable worker-pool score drift report notebook serve test test-fast test-tf-serving-compat image test-kubeflow bench bench-full bench-serving bench-soak bench-embeddings bench-tasks bench-tune bench-scale bench-score bench-encoders schema kubeflow lock clean

setup:            ## build or reuse the environment (venv, or Debian 13 userland on glibc < 2.39)
	$(ENV) setup

run: setup        ## the main job: the pipeline on the bundled sample, offline
	$(ENV) run python -m pipeline.cli run $(ARGS)

run-beam: setup   ## the same pipeline under BeamDagRunner (2 worker processes)
	$(ENV) run python -m pipeline.cli run --runner beam $(ARGS)

run-portable: setup ## the same pipeline, every Beam step through Beam's PortableRunner, job service and worker pool (ARGS="--worker-pool podman")
	$(ENV) run python -m pipeline.runners.portable $(ARGS)

worker-pool:     ## Beam's SDK worker pool in the pipeline image, on this host: PORT=50000 DIRS="data folders" (then run-portable --worker-pool-address)
	PYTHONPATH=$(CURDIR) python3 -m pipeline.runners.worker_pool --port $(or $(PORT),50000) $(DIRS)

score: setup      ## new texts scored by the latest run's blessed model: ARGS="--data new.csv [--name N] [--out F.jsonl]"
	$(ENV) run python -m pipeline.score $(ARGS)

drift: setup      ## logged serving traffic vs. the training data (TFDV, Jensen-Shannon): ARGS="--logs DIR [--name N]"
	$(ENV) run python -m pipeline.drift $(ARGS)

report: setup     ## a static HTML report of the latest run (ARGS="--name N" for another): outputs/report/index.html
	$(ENV) run python -m pipeline.report $(ARGS)

notebook: setup   ## execute docs/evaluation_dashboard.ipynb headless on the latest run (outputs/notebook/)
	$(ENV) run jupyter nbconvert --to notebook --execute docs/evaluation_dashboard.ipynb --output-dir outputs/notebook

# The model the latest make run pushed to (outputs/last_run.json), else the bundled sample's.
MODEL ?= $(shell python3 -m pipeline.paths serving-model)
EMBEDDINGS ?= nb-word-ngram-bag minilm-bigram-bag use-multilingual-v3
MODEL_BASE ?= $(shell python3 -m pipeline.paths model-base $(MODEL))
serve: setup      ## the local TF Serving-compatible server on the latest run's model (MODEL=trec ...; gRPC :8500, REST :8501)
	$(ENV) run python -m serving.local_server --model_name=$(MODEL) \
	  --model_base_path=$(MODEL_BASE) --batching_parameters_file=serving/deploy/batching_parameters.txt $(ARGS)

setup-test: setup ## the environment plus headless Chromium (the report's page test)
	$(ENV) browser

test: setup-test  ## every test (unit, bad input, end to end, orchestrators) but the portable runner's
	$(ENV) run python -m pytest -m "not portable" $(XDIST) $(PYTEST_ARGS)

test-fast: setup-test ## tests that do not run the whole pipeline
	$(ENV) run python -m pytest -m "not slow" $(XDIST) $(PYTEST_ARGS)

test-tf-serving-compat: setup ## pushed models under TF Serving 2.19.1's TensorFlow (a Python 3.11 venv; not in CI)
	EMBEDDINGS="$(EMBEDDINGS)" scripts/tf_serving_compat.sh

bench: setup      ## run the pipeline and append a results row to BENCHMARKS.md (ARGS: cli flags)
	$(ENV) run python -m benchmarks.pipeline_bench $(ARGS)

bench-full: setup ## the full IMDB benchmark (25k official test reviews)
	$(ENV) run python -m benchmarks.pipeline_bench --data ../shared/data/aclImdb_v1.tar.gz --name imdb-sentiment --batch-size 128

bench-embeddings: setup ## the pipeline on full IMDB once per registered embedding (benchmarks/embedding_results.md)
	$(ENV) run python -m benchmarks.embedding_bench $(ARGS)

bench-tasks: setup ## TREC (multi-class) and GoEmotions (multi-label), full, beside scikit-learn peers (benchmarks/task_results.md)
	$(ENV) run python -m benchmarks.task_bench $(ARGS)

bench-tune: setup ## default vs --tune vs hand-picked vs scikit-learn peer per data set (benchmarks/tune_results.md)
	$(ENV) run python -m benchmarks.tune_bench $(ARGS)

bench-scale: setup ## the pipeline on 25k, 100k, 400k and 1M generated IMDB rows: seconds, rows/s, peak memory per component (benchmarks/scale_results.md)
	$(ENV) run python -m benchmarks.scale_bench $(ARGS)

bench-score: setup ## make score on the 50,000 unlabelled aclImdb reviews vs. an in-process loop (benchmarks/score_results.md)
	$(ENV) run python -m benchmarks.score_bench $(ARGS)

bench-encoders: setup ## texts/s of the frozen encoders on TREC and GoEmotions (benchmarks/encoder_speed_results.md)
	$(ENV) run python -m benchmarks.encoder_speed $(ARGS)

bench-serving: setup ## gRPC/REST latency and throughput vs. the in-process model (benchmarks/serving_results.md)
	$(ENV) run python -m benchmarks.serving_bench $(ARGS)

bench-soak: setup ## bounded fuzz and soak of the local server: hostile probes, reloads, memory (benchmarks/serving_soak_results.md)
	$(ENV) run python -m benchmarks.serving_soak $(ARGS)

schema: setup     ## draft a curated schema for any data: ARGS="--data DIR --name N [--label-column C ...]" -> schemas/N/
	$(ENV) run python -m pipeline.infer_schema $(ARGS)

image:            ## the pipeline image from kubeflow/Dockerfile with podman or docker (BASE=official|userland)
	scripts/image.sh

test-kubeflow: setup-test image ## Beam's portable runner; the compiled Kubeflow spec run task by task in the image, and the image as Beam's worker pool (needs podman or docker; not in CI)
	$(ENV) run python -m pytest -m portable tests/test_portable_runner.py $(PYTEST_ARGS)
	scripts/test_kubeflow.sh $(PYTEST_ARGS)

kubeflow: setup   ## compile the pipeline for Kubeflow Pipelines (kubeflow/imdb_sentiment_pipeline.json)
	$(ENV) run python -m kubeflow.kubeflow_runner

lock: setup       ## refreeze requirements/lock.txt after editing requirements/pins.txt
	$(ENV) run sh -c "pip freeze --exclude-editable | grep -v -E '^(tfx-text-pipeline|$$(grep -v '^#' requirements/nodeps.txt | sed 's/==.*//' | paste -sd'|'))=' > requirements/lock.txt"

clean:            ## remove run outputs (not the environment cache)
	rm -rf outputs
