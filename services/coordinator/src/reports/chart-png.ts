// SVG -> PNG for the report's chart files, for pasting into slides and papers where SVG is not
// accepted. resvg (Rust, prebuilt for the platform through npm) rasterises without a browser or
// system libraries; the text is drawn with DejaVu Sans from an npm package rather than system fonts,
// so a PNG has its labels in a bare container image too and looks the same on every machine.
import { createRequire } from 'node:module';
import { Resvg } from '@resvg/resvg-js';

const require = createRequire(import.meta.url);
const FONT_FILES = ['DejaVuSans.ttf', 'DejaVuSans-Bold.ttf'].map((f) =>
  require.resolve(`dejavu-fonts-ttf/ttf/${f}`),
);

/** Pixels per SVG unit: twice the on-screen size, sharp on high-density screens and in print. */
export const PNG_SCALE = 2;

/** The chart as a PNG on a white background (Vega's SVG has none), PNG_SCALE times its SVG size. */
export function svgToPng(svg: string): Uint8Array {
  const resvg = new Resvg(svg, {
    background: 'white',
    fitTo: { mode: 'zoom', value: PNG_SCALE },
    font: {
      loadSystemFonts: false,
      fontFiles: FONT_FILES,
      defaultFontFamily: 'DejaVu Sans',
      sansSerifFamily: 'DejaVu Sans',
    },
  });
  return resvg.render().asPng();
}
