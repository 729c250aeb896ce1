# The two commands of the README, plus helpers. Each is idempotent on a fresh machine.
.PHONY: run test build site

## Install what is missing, start PostgreSQL if needed, build, seed the demo and serve.
run:
	bash scripts/run.sh

## Install what is missing, then format check, clippy, WASM check and every test.
test:
	bash scripts/test.sh

## Release build: the WASM bundle into target/site and target/release/sightline.
build: site
	cargo build --release -p server --bin sightline

site:
	bash scripts/build-site.sh release
