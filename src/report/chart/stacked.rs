//! Stacked bars: for each series a group of bars (one per core role), each
//! split into CPU categories, with the busy total printed above and a whisker
//! over the runs' lowest and highest busy share. A strip in the series' mode
//! colour under each group ties it to the other figures.

use super::draw::{
    SlotAxes, SlotChart, err, headroom, legend, legend_rows, name_lines, short, slot_px, text_style, whisker,
};
use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

#[derive(Clone)]
pub struct Stack {
    /// The core role ("app", "net", "app+net", "sender").
    pub label: String,
    /// One value per chart category, in the chart's category order.
    pub segments: Vec<f64>,
    pub range: Option<(f64, f64)>,
}

#[derive(Clone)]
pub struct StackGroup {
    pub name: String,
    pub colour: RGBColor,
    pub stacks: Vec<Stack>,
}

pub struct StackedChart {
    pub y_label: String,
    pub x_label: String,
    /// Category names and colours, bottom to top.
    pub categories: Vec<(String, RGBColor)>,
    pub groups: Vec<StackGroup>,
}

const BAR_PX: u32 = 52;

impl StackedChart {
    fn units(&self) -> u32 {
        self.groups.iter().map(|g| g.stacks.len() as u32 + 1).sum::<u32>().max(2)
    }

    fn legend_px(&self, w: u32) -> u32 {
        legend_rows(&self.categories, w) * 20 + 10
    }

    fn x_area(&self) -> u32 {
        22 + 16 * name_lines(self.groups.iter().map(|g| g.name.as_str())) + 22
    }

    pub fn size(&self) -> (u32, u32) {
        let px = slot_px(BAR_PX, self.groups.iter().map(|g| (g.name.as_str(), g.stacks.len())));
        let w = (self.units() * px + 120).clamp(640, 1800);
        (w, 420 + self.x_area() + self.legend_px(w))
    }

    pub fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        let (w, _) = root.dim_in_pixel();
        let (top, body) = root.split_vertically(self.legend_px(w));
        legend(&top, &self.categories)?;
        let mut max: f64 = 0.0;
        for s in self.groups.iter().flat_map(|g| g.stacks.iter()) {
            max = max.max(s.segments.iter().sum::<f64>()).max(s.range.map_or(0.0, |r| r.1));
        }
        let axes = SlotAxes {
            caption: None,
            sizes: self.groups.iter().map(|g| g.stacks.len()).collect(),
            names: self.groups.iter().map(|g| g.name.clone()).collect(),
            y_max: headroom(max),
            y_label: &self.y_label,
            x_label: &self.x_label,
            x_area: self.x_area(),
            y_area: 70,
        };
        let mut chart = axes.build(&body)?;
        let mut x = 0.5;
        for g in &self.groups {
            let strip = Rectangle::new([(x, 0.0), (x + g.stacks.len() as f64, 0.0)], g.colour.stroke_width(5));
            chart.draw_series(std::iter::once(strip)).map_err(err)?;
            for s in &g.stacks {
                self.draw_stack(&mut chart, x, s)?;
                x += 1.0;
            }
            x += 1.0;
        }
        Ok(())
    }

    fn draw_stack<DB: DrawingBackend>(&self, chart: &mut SlotChart<'_, DB>, x: f64, s: &Stack) -> Result<()> {
        let (x0, x1) = (x + 0.1, x + 0.9);
        let mut y = 0.0;
        for (v, (_, colour)) in s.segments.iter().zip(&self.categories) {
            if *v > 0.0 {
                chart
                    .draw_series(std::iter::once(Rectangle::new([(x0, y), (x1, y + v)], colour.filled())))
                    .map_err(err)?;
            }
            y += v;
        }
        let mid = x + 0.5;
        let mut top = y;
        if let Some((lo, hi)) = s.range {
            whisker(chart, mid, lo, hi)?;
            top = top.max(hi);
        }
        // Two short lines above the bar: its role, then its busy total.
        let above = text_style(12).pos(Pos::new(HPos::Center, VPos::Bottom));
        let at = EmptyElement::at((mid, top));
        let labels = at + Text::new(short(y), (0, -3), above.clone()) + Text::new(s.label.clone(), (0, -17), above);
        chart.draw_series(std::iter::once(labels)).map_err(err)?;
        Ok(())
    }
}
