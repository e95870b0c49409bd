// tfjs-core's declarations use @types/long's global `Long` (a tfjs-core dependency) without
// referencing it; this lets a consumer's type check find it with skipLibCheck false and a
// narrow `types` list.
/// <reference types="long" preserve="true" />
/**
 * `seqrec/plot`: training curves, embedding maps and interest plots as Vega-Lite specs, SVG and PNG. A
 * separate entry so that `import 'seqrec'` loads none of resvg, umap-js or vega; this file only
 * re-exports.
 */
export { curvesSpec, curvesSvg, parseHistory, type CurvePoint, type RunHistory, type CurvesOptions } from './curves.js';
export {
  embeddingMapSpec,
  embeddingMapSvg,
  logTicks,
  project2d,
  pca2d,
  topCategories,
  type ProjectionMethod,
  type ProjectionOptions,
  type PointColouring,
  type EmbeddingMapInput,
} from './embedding-map.js';
export { interestsSpec, interestsSvg, routeHistory, type InterestRouting, type InterestPlotOptions } from './interests.js';
export { readItemInfo, parseItemInfo, ML100K_GENRES, type ItemInfo } from './categories.js';
export { svgToPng, writeChart, type ChartFiles } from './png.js';
export { compileVegaLite, renderSvg, type VegaLiteSpec } from './vega.js';
