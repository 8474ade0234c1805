//! What the charts share: text, axes over slots, whiskers, legends, labels.

use anyhow::{Result, anyhow};
use plotters::coord::Shift;
use plotters::prelude::*;

/// The family the chart font is registered under.
pub const FAMILY: &str = "sans-serif";

/// plotters' drawing errors carry the backend's error type; keep the text.
pub(crate) fn err<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow!("drawing a chart: {e:?}")
}

/// A value as a chart label: three significant digits, no exponent.
pub fn short(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 {
        "0".into()
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

/// A tick label: as few decimals as the value needs (0, 2.5, 0.25, 35).
pub(crate) fn tick(v: f64) -> String {
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".into() } else { s.to_string() }
}

/// Lines a category name takes under the axis (one per " · " part).
pub(crate) fn name_lines<'a>(names: impl Iterator<Item = &'a str>) -> u32 {
    names.map(|n| n.split(" · ").count() as u32).max().unwrap_or(1)
}

/// Category names under an x axis, one line per " · " part, centred at each
/// category's point on the axis (backend pixel coordinates, as
/// `ChartContext::backend_coord` gives them).
pub(crate) fn x_names<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, at: &[((i32, i32), String)]) -> Result<()> {
    use plotters::style::text_anchor::{HPos, Pos, VPos};
    let (bx, by) = area.get_base_pixel();
    let style = text_style(13).pos(Pos::new(HPos::Center, VPos::Top));
    for ((x, y), name) in at {
        for (k, line) in name.split(" · ").enumerate() {
            let pos = (x - bx, y - by + 14 + 16 * k as i32);
            area.draw(&Text::new(line.to_string(), pos, style.clone())).map_err(err)?;
        }
    }
    Ok(())
}

/// A chart on bar slots: x in bar units (each group of `sizes[k]` bars plus one
/// bar's gap), the group names under the axis, y from 0 to `y_max`.
pub(crate) struct SlotAxes<'a> {
    pub caption: Option<&'a str>,
    pub sizes: Vec<usize>,
    pub names: Vec<String>,
    pub y_max: f64,
    pub y_label: &'a str,
    pub x_label: &'a str,
    pub x_area: u32,
    pub y_area: u32,
}

pub(crate) type SlotChart<'a, DB> = ChartContext<'a, DB, Cartesian2d<Slots, plotters::coord::types::RangedCoordf64>>;

impl SlotAxes<'_> {
    /// The chart with its mesh and group names drawn; bars go at x = 0.5 + slot.
    pub fn build<'b, DB: DrawingBackend>(&self, area: &'b DrawingArea<DB, Shift>) -> Result<SlotChart<'b, DB>> {
        let mut centres = Vec::new();
        let mut x = 0.5;
        for n in &self.sizes {
            centres.push(x + *n as f64 / 2.0);
            x += *n as f64 + 1.0;
        }
        let mut b = ChartBuilder::on(area);
        if let Some(c) = self.caption {
            b.caption(c, text_style(16));
        }
        let mut chart = b
            .margin(8)
            .margin_right(16)
            .x_label_area_size(self.x_area)
            .y_label_area_size(self.y_area)
            .build_cartesian_2d(Slots::new(x - 0.5, centres.clone()), 0.0..self.y_max)
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .y_desc(self.y_label)
            .x_desc(self.x_label)
            .x_label_formatter(&|_| String::new())
            .y_label_formatter(&|v| tick(*v))
            .label_style(text_style(13))
            .axis_desc_style(text_style(14))
            .light_line_style(WHITE)
            .bold_line_style(RGBColor(225, 225, 225))
            .draw()
            .map_err(err)?;
        let names: Vec<((i32, i32), String)> =
            centres.iter().zip(&self.names).map(|(c, n)| (chart.backend_coord(&(*c, 0.0)), n.clone())).collect();
        x_names(area, &names)?;
        Ok(chart)
    }
}

/// A whisker from `lo` to `hi` with caps, centred at `mid`.
pub(crate) fn whisker<DB: DrawingBackend>(chart: &mut SlotChart<'_, DB>, mid: f64, lo: f64, hi: f64) -> Result<()> {
    let s = RGBColor(40, 40, 40).stroke_width(1);
    let cap = |y: f64| PathElement::new(vec![(mid - 0.15, y), (mid + 0.15, y)], s);
    chart.draw_series([PathElement::new(vec![(mid, lo), (mid, hi)], s), cap(lo), cap(hi)]).map_err(err)?;
    Ok(())
}

/// An axis top with room above the tallest value for its label.
pub(crate) fn headroom(max: f64) -> f64 {
    if max > 0.0 && max.is_finite() { max * 1.18 } else { 1.0 }
}

pub(crate) fn text_style(size: u32) -> TextStyle<'static> {
    (FAMILY, size).into_font().color(&BLACK)
}

/// A row of coloured squares with labels across the top of `area`; returns
/// the height used.
pub(crate) fn legend<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, items: &[(String, RGBColor)]) -> Result<()> {
    let style = text_style(14);
    let (w, _) = area.dim_in_pixel();
    let (mut x, mut y) = (60i32, 6i32);
    for (label, colour) in items {
        let (tw, _) = area.estimate_text_size(label, &style).map_err(err)?;
        if x + 20 + tw as i32 > w as i32 - 10 {
            x = 60;
            y += 20;
        }
        area.draw(&Rectangle::new([(x, y + 2), (x + 12, y + 14)], colour.filled())).map_err(err)?;
        area.draw(&Text::new(label.clone(), (x + 16, y + 1), style.clone())).map_err(err)?;
        x += 16 + tw as i32 + 18;
    }
    Ok(())
}

/// An x axis of bar slots: a plain f64 axis whose tick marks sit exactly at
/// the given category centres (plotters' `WithKeyPoints` over f64 cannot take
/// a label formatter; this can).
pub(crate) struct Slots {
    inner: plotters::coord::types::RangedCoordf64,
    centres: Vec<f64>,
}

impl Slots {
    pub fn new(end: f64, centres: Vec<f64>) -> Slots {
        Slots { inner: (0.0..end).into(), centres }
    }
}

impl Ranged for Slots {
    type FormatOption = plotters::coord::ranged1d::DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        self.inner.map(value, limit)
    }

    fn key_points<Hint: plotters::coord::ranged1d::KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() { Vec::new() } else { self.centres.clone() }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.inner.range()
    }
}

/// Pixels per bar slot so that every category's name fits under its bars
/// (each " · " part a line of 13 px text, about 7.5 px a character, as
/// `legend_rows` estimates), at least `min`: a category of `n` bars has
/// `n + 1` slots.
pub(crate) fn slot_px<'a>(min: u32, categories: impl Iterator<Item = (&'a str, usize)>) -> u32 {
    let need = |name: &str, n: usize| {
        let chars = name.split(" · ").map(|l| l.chars().count()).max().unwrap_or(0) as f64;
        ((chars * 7.5 + 12.0) / (n as f64 + 1.0)).ceil() as u32
    };
    categories.map(|(name, n)| need(name, n)).fold(min, u32::max)
}

/// Rows the legend needs at width `w` (for sizing the figure).
pub(crate) fn legend_rows(items: &[(String, RGBColor)], w: u32) -> u32 {
    // 8 px per character at 14 px is DejaVu Sans' average; a row too many is harmless.
    let mut rows = 1;
    let mut x = 60.0;
    for (label, _) in items {
        let tw = label.chars().count() as f64 * 8.0;
        if x + 20.0 + tw > f64::from(w) - 10.0 {
            x = 60.0;
            rows += 1;
        }
        x += 34.0 + tw;
    }
    rows
}
