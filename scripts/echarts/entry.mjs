// The ECharts build the dashboard loads: only the chart kinds and components Sightline draws
// (about half of the full `echarts.min.js`, so the first load stays under 1 MB gzipped).
// Bundled by scripts/build-site.sh with esbuild into the site's echarts.min.js; exposes the
// same `window.echarts` the full build does, which charming's WasmRenderer calls. No toolbox:
// the PNG and SVG downloads are the page's own buttons.
import * as echarts from 'echarts/core';
import { BarChart, HeatmapChart, LineChart } from 'echarts/charts';
import {
  GridComponent,
  LegendComponent,
  TooltipComponent,
  VisualMapContinuousComponent,
} from 'echarts/components';
// Canvas draws on the page; SVG draws the "Download SVG" files.
import { CanvasRenderer, SVGRenderer } from 'echarts/renderers';

echarts.use([
  BarChart,
  HeatmapChart,
  LineChart,
  GridComponent,
  LegendComponent,
  TooltipComponent,
  VisualMapContinuousComponent,
  CanvasRenderer,
  SVGRenderer,
]);

window.echarts = echarts;
