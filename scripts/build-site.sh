#!/usr/bin/env bash
# Builds the browser side of the app into $TARGET_DIR/site (what cargo-leptos would do):
# frontend → wasm32 → wasm-bindgen → wasm-opt -Oz, plus the stylesheet and public assets.
# Usage: scripts/build-site.sh [release|dev]   (release: size-tuned and optimised; the default)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

mode="${1:-release}"
if [ "$mode" = release ]; then ensure_zopfli; fi
case "$mode" in
  release) profile=wasm-release; profile_dir=wasm-release ;;
  dev) profile=dev; profile_dir=debug ;;
  *) die "unknown mode '$mode' (release or dev)" ;;
esac

site="$TARGET_DIR/site"
pkg="$site/pkg"
say "building the WASM bundle ($mode)"
cargo build --quiet -p frontend --lib --target wasm32-unknown-unknown --profile "$profile"

mkdir -p "$pkg"
wasm-bindgen --target web --no-typescript --out-dir "$pkg" --out-name sightline \
  "$TARGET_DIR/wasm32-unknown-unknown/$profile_dir/frontend.wasm"
if [ "$mode" = release ]; then
  # npm's binaryen: Debian's older wasm-opt produces a bundle that fails to hydrate.
  wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int \
    "$pkg/sightline_bg.wasm" -o "$pkg/sightline_bg.wasm"
fi
cp "$ROOT/style/main.css" "$pkg/sightline.css"
cp -R "$ROOT/public/." "$site/"
# ECharts for the dashboard's charts, from the npm package (ensure_node_packages), never a CDN:
# only the parts the charts use (scripts/echarts/entry.mjs), bundled by npm's esbuild.
"$ROOT/node_modules/.bin/esbuild" "$ROOT/scripts/echarts/entry.mjs" --bundle --minify --format=iife \
  --target=es2020 --legal-comments=eof --log-level=warning --outfile="$site/echarts.min.js"

# Compressed once here, at the highest settings, instead of on every request: the server sends
# `name.gz` / `name.br` beside a file when the browser accepts them (leptos_axum's ServeDir).
# zopfli's gzip is ~5 % smaller than `gzip -9` and every browser reads it; brotli at 11 from
# node's zlib. Dev builds skip it (the server compresses on the fly).
if [ "$mode" = release ]; then
  for file in "$pkg/sightline_bg.wasm" "$pkg/sightline.js" "$pkg/sightline.css" "$site/echarts.min.js"; do
    if command -v zopfli >/dev/null; then zopfli -c "$file" >"$file.gz"; else gzip -9 -n -c "$file" >"$file.gz"; fi
    node -e 'const fs = require("fs"), z = require("zlib"); const f = process.argv[1];
      fs.writeFileSync(f + ".br", z.brotliCompressSync(fs.readFileSync(f), { params: {
        [z.constants.BROTLI_PARAM_QUALITY]: 11, [z.constants.BROTLI_PARAM_SIZE_HINT]: fs.statSync(f).size } }));' "$file"
  done
else
  rm -f "$pkg"/*.gz "$pkg"/*.br "$site"/echarts.min.js.gz "$site"/echarts.min.js.br
fi

raw=$(stat -c %s "$pkg/sightline_bg.wasm")
gz=$(gzip -9 -c "$pkg/sightline_bg.wasm" | wc -c)
[ -f "$pkg/sightline_bg.wasm.gz" ] && gz=$(stat -c %s "$pkg/sightline_bg.wasm.gz")
charts_gz=$(gzip -9 -c "$site/echarts.min.js" | wc -c)
[ -f "$site/echarts.min.js.gz" ] && charts_gz=$(stat -c %s "$site/echarts.min.js.gz")
say "site ready in $site (WASM: $((raw / 1024)) KiB raw, $((gz / 1024)) KiB gzipped; ECharts $((charts_gz / 1024)) KiB gzipped)"
