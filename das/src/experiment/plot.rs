//! The experiment's plots, each as SVG and PNG: goodput against load with the ideal,
//! the UPP/sec timeline of each load with the straggler window shaded, and the latency
//! CDF of each load.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::{Result, anyhow};
use duplicator::Scheme;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};

use super::measure::{Calibration, Point, Summary};
use super::spec::{LoadUnit, Plan};

/// Fonts tried for the PNG plots' text, in order (Debian's fonts-dejavu-core first);
/// `DAS_FONT` names another TrueType file.
const FONT_FILES: [&str; 3] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/freefont/FreeSans.ttf",
];

/// Registers a font for the bitmap backend once; false when none was found.
fn font_ready() -> bool {
    static READY: OnceLock<bool> = OnceLock::new();
    *READY.get_or_init(|| {
        let candidates = std::env::var("DAS_FONT")
            .ok()
            .into_iter()
            .chain(FONT_FILES.iter().map(|s| s.to_string()));
        for path in candidates {
            if let Ok(bytes) = std::fs::read(&path) {
                let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
                if register_font("sans-serif", FontStyle::Normal, bytes).is_ok() {
                    return true;
                }
            }
        }
        false
    })
}

fn color(s: Scheme) -> RGBColor {
    match s {
        Scheme::Single => RGBColor(31, 119, 180),
        Scheme::Clone => RGBColor(214, 39, 40),
        Scheme::ClonePrio => RGBColor(148, 103, 189),
        Scheme::Das => RGBColor(44, 160, 44),
        Scheme::Hedged => RGBColor(255, 127, 14),
    }
}

type DrawResult<B> =
    std::result::Result<(), DrawingAreaErrorKind<<B as DrawingBackend>::ErrorType>>;

/// Draws every plot into `dir` as SVG, and as PNG when a font is available; returns
/// the paths written.
pub fn draw_all(
    dir: &Path,
    plan: &Plan,
    calibration: &Calibration,
    points: &[Point],
    summary: &Summary,
) -> Result<Vec<PathBuf>> {
    let png = font_ready();
    if !png {
        eprintln!(
            "das: warning: no TrueType font found (install fonts-dejavu-core or set DAS_FONT); writing SVG plots only"
        );
    }
    let mut written = Vec::new();
    let mut both = |stem: String,
                    draw: &dyn Fn(Area<SVGBackend>) -> DrawResult<SVGBackend>,
                    draw_png: &dyn Fn(Area<BitMapBackend>) -> DrawResult<BitMapBackend>|
     -> Result<()> {
        let svg = dir.join(format!("{stem}.svg"));
        draw(SVGBackend::new(&svg, SIZE).into_drawing_area())
            .map_err(|e| anyhow!("drawing {}: {e}", svg.display()))?;
        written.push(svg);
        if png {
            let p = dir.join(format!("{stem}.png"));
            draw_png(BitMapBackend::new(&p, SIZE).into_drawing_area())
                .map_err(|e| anyhow!("drawing {}: {e}", p.display()))?;
            written.push(p);
        }
        Ok(())
    };
    both("goodput".into(), &|a| goodput(a, plan, summary), &|a| {
        goodput(a, plan, summary)
    })?;
    for &load in &plan.spec.load.points {
        let at: Vec<&Point> = points
            .iter()
            .filter(|p| p.load == load && p.repetition == 0)
            .collect();
        let tag = load_tag(load);
        both(
            format!("timeline-{tag}"),
            &|a| timeline(a, plan, calibration, &at, load),
            &|a| timeline(a, plan, calibration, &at, load),
        )?;
        both(
            format!("latency-{tag}"),
            &|a| latency_cdf(a, plan, &at, load),
            &|a| latency_cdf(a, plan, &at, load),
        )?;
    }
    Ok(written)
}

type Area<B> = DrawingArea<B, Shift>;

/// The legend, in the same style on every plot.
fn draw_legend<'a, B, CT>(
    chart: &mut ChartContext<'a, B, CT>,
    position: SeriesLabelPosition,
) -> DrawResult<B>
where
    B: DrawingBackend + 'a,
    CT: CoordTranslate,
{
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 15))
        .draw()
}

const SIZE: (u32, u32) = (900, 560);

/// A load as a file-name part: 0.75 -> "0.75".
fn load_tag(load: f64) -> String {
    format!("{load}")
}

fn load_axis(plan: &Plan) -> &'static str {
    match plan.unit {
        LoadUnit::Capacity => "offered load (fraction of the cluster's calibrated capacity)",
        LoadUnit::Pps => "offered load (packets/s)",
        LoadUnit::Mbps => "offered load (Mbit/s)",
    }
}

fn load_label(plan: &Plan, load: f64) -> String {
    match plan.unit {
        LoadUnit::Capacity => format!("{:.0} % of capacity", load * 100.0),
        LoadUnit::Pps => format!("{load} packets/s"),
        LoadUnit::Mbps => format!("{load} Mbit/s"),
    }
}

fn goodput<B: DrawingBackend>(root: Area<B>, plan: &Plan, summary: &Summary) -> DrawResult<B> {
    root.fill(&WHITE)?;
    let xmax = plan.spec.load.points.iter().copied().fold(0.0, f64::max) * 1.08;
    let ymax = summary
        .rows
        .iter()
        .map(|r| r.goodput_upp.max(r.ideal_upp))
        .fold(1.0, f64::max)
        / 1e3
        * 1.15;
    let title = format!(
        "{}: goodput against load{}",
        plan.spec.name,
        if plan.spec.straggler.is_some() {
            " (straggler on one node)"
        } else {
            ""
        }
    );
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..xmax, 0f64..ymax)?;
    chart
        .configure_mesh()
        .x_desc(load_axis(plan))
        .y_desc("goodput (thousand unique packets/s)")
        .draw()?;
    let mut ideal: Vec<(f64, f64)> = Vec::new();
    for &load in &plan.spec.load.points {
        if let Some(r) = summary.rows.iter().find(|r| r.load == load) {
            ideal.push((load, r.ideal_upp / 1e3));
        }
    }
    chart
        .draw_series(DashedLineSeries::new(ideal, 8, 5, BLACK.stroke_width(2)))?
        .label("ideal: min(offered, remaining capacity)")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK.stroke_width(2)));
    for &scheme in &plan.schemes {
        let c = color(scheme);
        let pts: Vec<(f64, f64)> = summary
            .rows
            .iter()
            .filter(|r| r.scheme == scheme)
            .map(|r| (r.load, r.goodput_upp / 1e3))
            .collect();
        chart
            .draw_series(LineSeries::new(pts.clone(), c.stroke_width(2)))?
            .label(scheme.to_string())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
        chart.draw_series(pts.into_iter().map(|p| Circle::new(p, 4, c.filled())))?;
    }
    draw_legend(&mut chart, SeriesLabelPosition::UpperLeft)?;
    root.present()
}

fn timeline<B: DrawingBackend>(
    root: Area<B>,
    plan: &Plan,
    calibration: &Calibration,
    at: &[&Point],
    load: f64,
) -> DrawResult<B> {
    root.fill(&WHITE)?;
    let secs = |p: &Point| p.timeline.len() as f64 * p.timeline_ms / 1e3;
    let xmax = at
        .iter()
        .map(|p| secs(p))
        .fold(plan.duration.as_secs_f64(), f64::max);
    let ymax = at
        .iter()
        .flat_map(|p| p.timeline.iter().copied())
        .fold(calibration.cluster_pps, f64::max)
        / 1e3
        * 1.15;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!(
                "{}: UPP/sec over time at {}",
                plan.spec.name,
                load_label(plan, load)
            ),
            ("sans-serif", 22),
        )
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..xmax, 0f64..ymax)?;
    chart
        .configure_mesh()
        .x_desc("time (s)")
        .y_desc("thousand unique packets/s")
        .draw()?;
    if let Some(s) = &plan.spec.straggler {
        let d = plan.duration.as_secs_f64();
        let (x0, x1) = (s.start * d, (s.start + s.length) * d);
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(x0, 0.0), (x1, ymax)],
                RGBColor(255, 160, 160).mix(0.3).filled(),
            )))?
            .label(format!(
                "straggler on node {} ({:.0} % of its CPU)",
                s.node,
                s.intensity * 100.0
            ))
            .legend(|(x, y)| {
                Rectangle::new(
                    [(x, y - 5), (x + 20, y + 5)],
                    RGBColor(255, 160, 160).filled(),
                )
            });
    }
    if let Some(p) = at.first() {
        let offered = (p.offered_pps / 1e3).min(ymax);
        chart
            .draw_series(DashedLineSeries::new(
                vec![(0.0, offered), (xmax, offered)],
                8,
                5,
                BLACK.stroke_width(1),
            ))?
            .label("offered")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK.stroke_width(1)));
    }
    for p in at {
        let c = color(p.scheme);
        let step = p.timeline_ms / 1e3;
        let pts: Vec<(f64, f64)> = p
            .timeline
            .iter()
            .enumerate()
            .map(|(i, v)| ((i as f64 + 0.5) * step, v / 1e3))
            .collect();
        chart
            .draw_series(LineSeries::new(pts, c.stroke_width(2)))?
            .label(p.scheme.to_string())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
    }
    draw_legend(&mut chart, SeriesLabelPosition::LowerLeft)?;
    root.present()
}

fn latency_cdf<B: DrawingBackend>(
    root: Area<B>,
    plan: &Plan,
    at: &[&Point],
    load: f64,
) -> DrawResult<B> {
    root.fill(&WHITE)?;
    let xmax = at
        .iter()
        .flat_map(|p| p.latency.cdf.iter().map(|c| c.0))
        .fold(10.0, f64::max)
        * 1.5;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!(
                "{}: latency CDF at {}",
                plan.spec.name,
                load_label(plan, load)
            ),
            ("sans-serif", 22),
        )
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d((1f64..xmax).log_scale(), 0f64..1.0)?;
    chart
        .configure_mesh()
        .x_desc("latency, duplicator to dedup (µs, log scale)")
        .y_desc("fraction of unique packets")
        .draw()?;
    for p in at {
        let c = color(p.scheme);
        let pts: Vec<(f64, f64)> = p
            .latency
            .cdf
            .iter()
            .map(|&(us, q)| (us.max(1.0), q))
            .collect();
        chart
            .draw_series(LineSeries::new(pts, c.stroke_width(2)))?
            .label(p.scheme.to_string())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
    }
    draw_legend(&mut chart, SeriesLabelPosition::LowerRight)?;
    root.present()
}
