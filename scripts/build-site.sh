#!/usr/bin/env bash
# Builds the browser side of the app into $TARGET_DIR/site (what cargo-leptos would do):
# frontend → wasm32 → wasm-bindgen → wasm-opt -Oz, plus the stylesheet and public assets.
# Usage: scripts/build-site.sh [release|dev]   (release: size-tuned and optimised; the default)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

mode="${1:-release}"
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

raw=$(stat -c %s "$pkg/sightline_bg.wasm")
gz=$(gzip -9 -c "$pkg/sightline_bg.wasm" | wc -c)
charts_gz=$(gzip -9 -c "$site/echarts.min.js" | wc -c)
say "site ready in $site (WASM: $((raw / 1024)) KiB raw, $((gz / 1024)) KiB gzipped; ECharts $((charts_gz / 1024)) KiB gzipped)"
