//! Grouped bar charts: panels side by side (one per CPU layout), categories
//! along each panel's x axis, one coloured bar per series in a category, its
//! value printed above it and a whisker from the series' lowest to highest run.

use super::draw::{
    SlotAxes, SlotChart, err, headroom, legend, legend_rows, name_lines, short, slot_px, text_style, whisker,
};
use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

pub struct Bar {
    pub colour: RGBColor,
    /// The series' trimmed mean.
    pub value: f64,
    /// Whisker: lowest and highest run (None for one run).
    pub range: Option<(f64, f64)>,
}

pub struct Category {
    pub name: String,
    pub bars: Vec<Bar>,
}

pub struct Panel {
    pub title: String,
    pub categories: Vec<Category>,
}

pub struct BarChart {
    pub y_label: String,
    pub x_label: String,
    pub panels: Vec<Panel>,
    pub legend: Vec<(String, RGBColor)>,
    /// A horizontal line (e.g. 1.0 on a ratio chart) and its label.
    pub reference: Option<(f64, String)>,
}

const BAR_PX: u32 = 46;
const LEFT_PX: u32 = 90;

impl BarChart {
    fn bars_in(p: &Panel) -> u32 {
        p.categories.iter().map(|c| c.bars.len() as u32 + 1).sum::<u32>().max(2)
    }

    /// Pixels per bar: wide enough for every category's name.
    fn bar_px(&self) -> u32 {
        let cats = self.panels.iter().flat_map(|p| p.categories.iter());
        slot_px(BAR_PX, cats.map(|c| (c.name.as_str(), c.bars.len())))
    }

    fn legend_px(&self, w: u32) -> u32 {
        legend_rows(&self.legend, w) * 20 + 10
    }

    pub fn size(&self) -> (u32, u32) {
        let bars: u32 = self.panels.iter().map(Self::bars_in).sum();
        let w = (bars * self.bar_px() + LEFT_PX * self.panels.len() as u32 + 40).clamp(640, 2400);
        (w, 400 + self.x_area() + self.legend_px(w))
    }

    fn y_max(&self) -> f64 {
        let mut m: f64 = 0.0;
        for b in self.panels.iter().flat_map(|p| p.categories.iter()).flat_map(|c| c.bars.iter()) {
            m = m.max(b.value).max(b.range.map_or(0.0, |r| r.1));
        }
        if let Some((r, _)) = &self.reference {
            m = m.max(*r);
        }
        headroom(m)
    }

    pub fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        let (w, _) = root.dim_in_pixel();
        let (top, body) = root.split_vertically(self.legend_px(w));
        legend(&top, &self.legend)?;
        // Panel widths in proportion to their bars, so bars are equally wide.
        let px = self.bar_px();
        let weights: Vec<u32> = self.panels.iter().map(|p| Self::bars_in(p) * px + LEFT_PX).collect();
        let total: u32 = weights.iter().sum();
        let mut breaks = Vec::new();
        let mut acc = 0;
        for wgt in &weights[..weights.len().saturating_sub(1)] {
            acc += wgt;
            breaks.push((u64::from(acc) * u64::from(w) / u64::from(total.max(1))) as i32);
        }
        let areas = body.split_by_breakpoints(breaks, Vec::<i32>::new());
        let y_max = self.y_max();
        for (p, area) in self.panels.iter().zip(areas.iter()) {
            self.draw_panel(p, area, y_max)?;
        }
        Ok(())
    }

    /// Height of the area under the x axis: the category names and the axis name.
    fn x_area(&self) -> u32 {
        let lines = name_lines(self.panels.iter().flat_map(|p| p.categories.iter()).map(|c| c.name.as_str()));
        22 + 16 * lines + if self.x_label.is_empty() { 0 } else { 22 }
    }

    fn draw_panel<DB: DrawingBackend>(&self, p: &Panel, area: &DrawingArea<DB, Shift>, y_max: f64) -> Result<()> {
        let axes = SlotAxes {
            caption: Some(&p.title),
            sizes: p.categories.iter().map(|c| c.bars.len()).collect(),
            names: p.categories.iter().map(|c| c.name.clone()).collect(),
            y_max,
            y_label: &self.y_label,
            x_label: &self.x_label,
            x_area: self.x_area(),
            y_area: LEFT_PX - 20,
        };
        let mut chart = axes.build(area)?;
        let x_end = p.categories.iter().map(|c| c.bars.len() as f64 + 1.0).sum::<f64>();
        let mut x = 0.5;
        for c in &p.categories {
            for b in &c.bars {
                draw_bar(&mut chart, x, b)?;
                x += 1.0;
            }
            x += 1.0;
        }
        if let Some((r, label)) = &self.reference {
            chart
                .draw_series(std::iter::once(PathElement::new(vec![(0.0, *r), (x_end, *r)], BLACK.stroke_width(1))))
                .map_err(err)?;
            let s = text_style(12).pos(Pos::new(HPos::Left, VPos::Bottom));
            chart
                .draw_series(std::iter::once(EmptyElement::at((0.0, *r)) + Text::new(label.clone(), (4, -2), s)))
                .map_err(err)?;
        }
        Ok(())
    }
}

fn draw_bar<DB: DrawingBackend>(chart: &mut SlotChart<'_, DB>, x: f64, b: &Bar) -> Result<()> {
    let (x0, x1) = (x + 0.1, x + 0.9);
    chart.draw_series(std::iter::once(Rectangle::new([(x0, 0.0), (x1, b.value)], b.colour.filled()))).map_err(err)?;
    let mid = x + 0.5;
    let mut top = b.value;
    if let Some((lo, hi)) = b.range {
        whisker(chart, mid, lo, hi)?;
        top = top.max(hi);
    }
    let style = text_style(13).pos(Pos::new(HPos::Center, VPos::Bottom));
    chart
        .draw_series(std::iter::once(EmptyElement::at((mid, top)) + Text::new(short(b.value), (0, -3), style)))
        .map_err(err)?;
    Ok(())
}
