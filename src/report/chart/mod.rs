//! Charts as data (bars, stacked bars, lines) and their rendering with
//! plotters: SVG text for the page and the figure files, and an RGB buffer
//! encoded as PNG for the Markdown. Text is measured and (in PNGs) drawn with
//! the DejaVu Sans shipped in assets/fonts, so no system font library is needed.

mod bars;
mod draw;
mod lines;
mod stacked;

pub use bars::{Bar, BarChart, Category, Panel};
pub use lines::{Line, LineChart, LinePanel};
pub use stacked::{Stack, StackGroup, StackedChart};

use anyhow::{Result, anyhow};
use draw::{FAMILY, err};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::sync::Once;

/// The font charts measure and draw text with.
static FONT: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");

fn register_font() -> Result<()> {
    static ONCE: Once = Once::new();
    let mut failed = false;
    ONCE.call_once(|| {
        failed = plotters::style::register_font(FAMILY, FontStyle::Normal, FONT).is_err();
    });
    if failed {
        return Err(anyhow!("the chart font built into zcbench (DejaVu Sans) could not be read"));
    }
    Ok(())
}

/// One drawable chart.
pub enum Plot {
    Bars(BarChart),
    Stacked(StackedChart),
    Lines(LineChart),
}

impl Plot {
    /// Pixel size the chart is drawn at (SVG width/height and PNG size).
    pub fn size(&self) -> (u32, u32) {
        match self {
            Plot::Bars(b) => b.size(),
            Plot::Stacked(s) => s.size(),
            Plot::Lines(l) => l.size(),
        }
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        root.fill(&WHITE).map_err(err)?;
        match self {
            Plot::Bars(b) => b.draw(root),
            Plot::Stacked(s) => s.draw(root),
            Plot::Lines(l) => l.draw(root),
        }?;
        root.present().map_err(err)
    }

    /// The chart as an SVG document.
    pub fn svg(&self) -> Result<String> {
        register_font()?;
        let mut s = String::new();
        {
            let root = SVGBackend::with_string(&mut s, self.size()).into_drawing_area();
            self.draw(&root)?;
        }
        Ok(s)
    }

    /// The chart as a PNG file's bytes (8-bit RGB).
    pub fn png(&self) -> Result<Vec<u8>> {
        register_font()?;
        let (w, h) = self.size();
        let mut buf = vec![0u8; w as usize * h as usize * 3];
        {
            let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
            self.draw(&root)?;
        }
        let mut out = Vec::new();
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        enc.set_compression(png::Compression::Fast);
        let mut writer = enc.write_header().map_err(|e| anyhow!("encoding a PNG figure: {e}"))?;
        writer.write_image_data(&buf).map_err(|e| anyhow!("encoding a PNG figure: {e}"))?;
        writer.finish().map_err(|e| anyhow!("encoding a PNG figure: {e}"))?;
        Ok(out)
    }
}
