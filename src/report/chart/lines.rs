//! Line charts over time: panels stacked vertically sharing the x axis (e.g.
//! throughput above, CPU below), one line per run, the warm-up shaded.

use super::draw::{err, headroom, legend, legend_rows, text_style, tick};
use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;

/// A run's values per sampling interval, drawn as steps: each interval's
/// value holds from its start to its end.
pub struct Line {
    pub colour: RGBColor,
    /// (interval end, length, value).
    pub intervals: Vec<(f64, f64, f64)>,
}

impl Line {
    fn points(&self) -> Vec<(f64, f64)> {
        self.intervals.iter().flat_map(|&(t, dt, v)| [((t - dt).max(0.0), v), (t, v)]).collect()
    }
}

pub struct LinePanel {
    pub y_label: String,
    pub lines: Vec<Line>,
}

pub struct LineChart {
    pub x_label: String,
    pub panels: Vec<LinePanel>,
    /// End of the warm-up (seconds): intervals before it are not measured.
    pub warmup_until: Option<f64>,
    pub legend: Vec<(String, RGBColor)>,
}

const W: u32 = 960;

impl LineChart {
    fn legend_px(&self) -> u32 {
        legend_rows(&self.legend, W) * 20 + 10
    }

    pub fn size(&self) -> (u32, u32) {
        (W, 250 * self.panels.len().max(1) as u32 + 40 + self.legend_px())
    }

    pub fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        let (top, body) = root.split_vertically(self.legend_px());
        legend(&top, &self.legend)?;
        let x_max = self
            .panels
            .iter()
            .flat_map(|p| p.lines.iter())
            .flat_map(|l| l.intervals.iter())
            .map(|p| p.0)
            .fold(0.0, f64::max)
            .max(1.0);
        let areas = body.split_evenly((self.panels.len().max(1), 1));
        for (i, (p, area)) in self.panels.iter().zip(areas.iter()).enumerate() {
            let last = i + 1 == self.panels.len();
            self.draw_panel(p, area, x_max, last)?;
        }
        Ok(())
    }

    fn draw_panel<DB: DrawingBackend>(
        &self,
        p: &LinePanel,
        area: &DrawingArea<DB, Shift>,
        x_max: f64,
        last: bool,
    ) -> Result<()> {
        let y_max = headroom(p.lines.iter().flat_map(|l| l.intervals.iter()).map(|p| p.2).fold(0.0, f64::max));
        let mut chart = ChartBuilder::on(area)
            .margin(8)
            .margin_right(24)
            .x_label_area_size(if last { 48 } else { 24 })
            .y_label_area_size(80)
            .build_cartesian_2d(0.0..x_max, 0.0..y_max)
            .map_err(err)?;
        let mut mesh = chart.configure_mesh();
        mesh.y_desc(&p.y_label)
            .x_label_formatter(&|v| tick(*v))
            .y_label_formatter(&|v| tick(*v))
            .label_style(text_style(13))
            .axis_desc_style(text_style(14))
            .light_line_style(WHITE)
            .bold_line_style(RGBColor(225, 225, 225));
        if last {
            mesh.x_desc(&self.x_label);
        }
        mesh.draw().map_err(err)?;
        if let Some(w) = self.warmup_until.filter(|w| *w > 0.0) {
            let shade = Rectangle::new([(0.0, 0.0), (w.min(x_max), y_max)], RGBColor(236, 236, 236).filled());
            chart.draw_series(std::iter::once(shade)).map_err(err)?;
        }
        for l in &p.lines {
            let style = l.colour.stroke_width(2);
            chart.draw_series(LineSeries::new(l.points(), style)).map_err(err)?;
        }
        Ok(())
    }
}
