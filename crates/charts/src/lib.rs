//! Chart images drawn on the server (SPEC UI-7): the dashboard's main charts as SVG or PNG for
//! downloads, reports and e-mails, where no browser runs ECharts. A figure is categories along
//! the x axis (days, weeks, channels) and series drawn as bars or lines against a left or a
//! right axis, which covers every time series and per-channel chart the dashboard shows.
//!
//! Text is drawn with DejaVu Sans embedded in the binary, so images look the same on every
//! host and need no system fonts.

use std::ops::Range;
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;

/// The file kinds a chart downloads as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Svg,
    Png,
}

impl Format {
    /// From a file extension as in `revenue.svg`.
    pub fn from_extension(extension: &str) -> Option<Self> {
        match extension {
            "svg" => Some(Self::Svg),
            "png" => Some(Self::Png),
            _ => None,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Self::Svg => "image/svg+xml",
            Self::Png => "image/png",
        }
    }
}

/// How a series is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    Bars,
    Line,
}

/// Which value axis a series is read against; two quantities of different units (sentiment
/// and volume, revenue and orders) share a chart with one axis each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Left,
    Right,
}

/// One named series: a value per category, `None` where there is none (a gap in a line).
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub name: String,
    pub mark: Mark,
    pub side: Side,
    pub values: Vec<Option<f64>>,
}

/// A chart to draw.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    pub title: String,
    pub categories: Vec<String>,
    pub left_label: String,
    pub right_label: String,
    pub series: Vec<Series>,
}

#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    #[error("series `{name}` has {values} values for {categories} categories")]
    Shape {
        name: String,
        values: usize,
        categories: usize,
    },
    #[error("the image is too large or too small: {width} × {height} pixels")]
    Size { width: u32, height: u32 },
    #[error("the chart could not be drawn: {0}")]
    Drawing(String),
    #[error("the PNG could not be encoded: {0}")]
    Encoding(#[from] png::EncodingError),
}

/// The ECharts default palette, so a downloaded image matches the chart on the page.
const PALETTE: [RGBColor; 4] = [
    RGBColor(0x54, 0x70, 0xc6),
    RGBColor(0x91, 0xcc, 0x75),
    RGBColor(0xfa, 0xc8, 0x58),
    RGBColor(0xee, 0x66, 0x66),
];

const FONT: &str = "sans-serif";

/// Draws `figure` at `width` × `height` pixels as an SVG document or a PNG file.
pub fn render(figure: &Figure, format: Format, width: u32, height: u32) -> Result<Vec<u8>, ChartError> {
    if !(200..=4000).contains(&width) || !(150..=4000).contains(&height) {
        return Err(ChartError::Size { width, height });
    }
    for series in &figure.series {
        if series.values.len() != figure.categories.len() {
            return Err(ChartError::Shape {
                name: series.name.clone(),
                values: series.values.len(),
                categories: figure.categories.len(),
            });
        }
    }
    static FONTS: Once = Once::new();
    FONTS.call_once(|| {
        // The embedded font is a valid TrueType file; a failure would draw no text, not crash.
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular());
    });
    match format {
        Format::Svg => {
            let mut svg = String::new();
            draw(
                SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area(),
                figure,
            )?;
            Ok(svg.into_bytes())
        }
        Format::Png => {
            let mut pixels = vec![0u8; width as usize * height as usize * 3];
            draw(
                BitMapBackend::with_buffer(&mut pixels, (width, height)).into_drawing_area(),
                figure,
            )?;
            let mut file = Vec::new();
            let mut encoder = png::Encoder::new(&mut file, width, height);
            encoder.set_color(png::ColorType::Rgb);
            encoder.set_depth(png::BitDepth::Eight);
            let mut writer = encoder.write_header()?;
            writer.write_image_data(&pixels)?;
            writer.finish()?;
            Ok(file)
        }
    }
}

/// The value range of one side's series, always with zero in it (bars and counts start there),
/// and 0 … 1 for an empty side so the axis still draws.
fn value_range(figure: &Figure, side: Side) -> Range<f64> {
    let on_side = figure.series.iter().filter(|s| s.side == side);
    let mut low = f64::INFINITY;
    let mut high = f64::NEG_INFINITY;
    for series in on_side {
        low = low.min(0.0);
        high = high.max(0.0);
        for value in series.values.iter().flatten().filter(|v| v.is_finite()) {
            low = low.min(*value);
            high = high.max(*value);
        }
    }
    if !low.is_finite() || !high.is_finite() {
        return 0.0..1.0;
    }
    if high <= low {
        return (low - 1.0)..(high + 1.0);
    }
    let margin = (high - low) * 0.05;
    let low = if low < 0.0 { low - margin } else { low };
    low..(high + margin)
}

/// An axis value as people write it: whole numbers without decimals, others to what the
/// step needs.
fn axis_number(value: &f64) -> String {
    // No "-0" where a range crosses zero.
    let value = if *value == 0.0 { 0.0 } else { *value };
    if value.fract().abs() < 1e-9 {
        format!("{value:.0}")
    } else if value.abs() >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

fn draw<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, figure: &Figure) -> Result<(), ChartError> {
    let failed = |e: DrawingAreaErrorKind<DB::ErrorType>| ChartError::Drawing(e.to_string());
    root.fill(&WHITE).map_err(failed)?;
    let count = figure.categories.len().max(1);
    let x_range = -0.5..(count as f64 - 0.5);
    let has_right = figure.series.iter().any(|s| s.side == Side::Right);
    let mut chart = ChartBuilder::on(&root)
        .caption(&figure.title, (FONT, 20))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .right_y_label_area_size(if has_right { 56 } else { 0 })
        .build_cartesian_2d(x_range.clone(), value_range(figure, Side::Left))
        .map_err(failed)?
        .set_secondary_coord(x_range, value_range(figure, Side::Right));

    let categories = &figure.categories;
    let label = |x: &f64| {
        let index = x.round();
        if (x - index).abs() > 1e-6 || index < 0.0 {
            return String::new();
        }
        categories.get(index as usize).cloned().unwrap_or_default()
    };
    chart
        .configure_mesh()
        .disable_x_mesh()
        .max_light_lines(0)
        .x_labels(count.min(8))
        .x_label_formatter(&label)
        .y_labels(6)
        .y_label_formatter(&axis_number)
        .y_desc(&figure.left_label)
        .label_style((FONT, 12))
        .axis_desc_style((FONT, 13))
        .draw()
        .map_err(failed)?;
    if has_right {
        chart
            .configure_secondary_axes()
            .y_labels(6)
            .y_label_formatter(&axis_number)
            .y_desc(&figure.right_label)
            .label_style((FONT, 12))
            .axis_desc_style((FONT, 13))
            .draw()
            .map_err(failed)?;
    }

    let bar_series = figure
        .series
        .iter()
        .filter(|s| s.mark == Mark::Bars)
        .count()
        .max(1);
    let bar_width = 0.8 / bar_series as f64;
    let mut bar_index = 0;
    for (n, series) in figure.series.iter().enumerate() {
        let color = PALETTE[n % PALETTE.len()];
        let legend = move |(x, y): (i32, i32)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], color.filled());
        match series.mark {
            Mark::Bars => {
                let offset = -0.4 + bar_width * bar_index as f64;
                bar_index += 1;
                let bars = series.values.iter().enumerate().filter_map(|(i, v)| {
                    let v = v.filter(|v| v.is_finite())?;
                    let left = i as f64 + offset;
                    Some(Rectangle::new(
                        [(left, 0.0), (left + bar_width * 0.9, v)],
                        color.filled(),
                    ))
                });
                let drawn = match series.side {
                    Side::Left => chart.draw_series(bars),
                    Side::Right => chart.draw_secondary_series(bars),
                }
                .map_err(failed)?;
                drawn.label(series.name.as_str()).legend(legend);
            }
            Mark::Line => {
                // A gap in the values breaks the line, rather than bridging days without data.
                let mut segments: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
                for (i, value) in series.values.iter().enumerate() {
                    match value.filter(|v| v.is_finite()) {
                        Some(v) => segments.last_mut().expect("never empty").push((i as f64, v)),
                        None if segments.last().is_some_and(|s| !s.is_empty()) => segments.push(Vec::new()),
                        None => {}
                    }
                }
                let style = color.stroke_width(2);
                let mut lines = Vec::new();
                let mut dots = Vec::new();
                for segment in segments.into_iter().filter(|s| !s.is_empty()) {
                    dots.extend(segment.iter().map(|&p| Circle::new(p, 2, color.filled())));
                    lines.push(PathElement::new(segment, style));
                }
                let drawn = match series.side {
                    Side::Left => chart.draw_series(lines),
                    Side::Right => chart.draw_secondary_series(lines),
                }
                .map_err(failed)?;
                drawn.label(series.name.as_str()).legend(legend);
                match series.side {
                    Side::Left => chart.draw_series(dots),
                    Side::Right => chart.draw_secondary_series(dots),
                }
                .map_err(failed)?;
            }
        }
    }
    if !figure.series.is_empty() {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .label_font((FONT, 12))
            .draw()
            .map_err(failed)?;
    }
    root.present().map_err(failed)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn figure(values: Vec<Option<f64>>) -> Figure {
        Figure {
            title: "Revenue and orders".into(),
            categories: (0..values.len())
                .map(|i| format!("2026-11-{:02}", i + 1))
                .collect(),
            left_label: "Revenue (EUR)".into(),
            right_label: "Orders".into(),
            series: vec![
                Series {
                    name: "Revenue".into(),
                    mark: Mark::Bars,
                    side: Side::Left,
                    values: values.clone(),
                },
                Series {
                    name: "Orders".into(),
                    mark: Mark::Line,
                    side: Side::Right,
                    values,
                },
            ],
        }
    }

    #[test]
    fn an_svg_names_the_chart_its_axes_and_every_series() {
        let svg = String::from_utf8(
            render(&figure(vec![Some(3.0), None, Some(5.5)]), Format::Svg, 640, 320).unwrap(),
        )
        .unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..40]);
        for text in [
            "Revenue and orders",
            "Revenue (EUR)",
            "Orders",
            "2026-11-01",
            "2026-11-03",
        ] {
            assert!(svg.contains(text), "the SVG shows {text}");
        }
    }

    #[test]
    fn a_png_is_a_png_of_the_asked_size_with_something_drawn() {
        let png = render(&figure(vec![Some(1.0), Some(4.0)]), Format::Png, 400, 200).unwrap();
        let decoder = png::Decoder::new(png.as_slice());
        let mut reader = decoder.read_info().unwrap();
        let mut pixels = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut pixels).unwrap();
        assert_eq!((info.width, info.height), (400, 200));
        let palette_blue = pixels.chunks(3).filter(|p| p == &[0x54, 0x70, 0xc6]).count();
        assert!(
            palette_blue > 100,
            "the revenue bars are drawn ({palette_blue} pixels)"
        );
    }

    #[test]
    fn axis_numbers_drop_needless_decimals() {
        assert_eq!(axis_number(&9000.0), "9000");
        assert_eq!(axis_number(&-0.0), "0");
        assert_eq!(axis_number(&0.25), "0.25");
        assert_eq!(axis_number(&12.5), "12.5");
    }

    #[test]
    fn a_series_of_the_wrong_length_and_an_absurd_size_are_refused() {
        let mut bad = figure(vec![Some(1.0)]);
        bad.categories.push("extra".into());
        assert!(matches!(
            render(&bad, Format::Svg, 640, 320),
            Err(ChartError::Shape { .. })
        ));
        assert!(matches!(
            render(&figure(vec![]), Format::Png, 10, 10),
            Err(ChartError::Size { .. })
        ));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(40))]
        /// Any values — empty, all missing, negative, constant, huge — draw without failing.
        #[test]
        fn any_values_draw(values in proptest::collection::vec(
            proptest::option::of(prop_oneof![-1e12f64..1e12, Just(0.0), Just(f64::NAN)]), 0..60)
        ) {
            prop_assert!(render(&figure(values), Format::Svg, 480, 240).is_ok());
        }

        #[test]
        fn every_range_holds_its_values(values in proptest::collection::vec(proptest::option::of(-1e9f64..1e9), 0..40)) {
            let f = figure(values.clone());
            let range = value_range(&f, Side::Left);
            prop_assert!(range.start < range.end);
            for v in values.iter().flatten() {
                prop_assert!(range.start <= *v && *v <= range.end);
            }
        }
    }
}
