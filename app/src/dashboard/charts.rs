//! The dashboard's charts: ECharts through charming, drawn in the browser after hydration.
//! The server renders each chart's frame with a sentence saying what it shows (its
//! accessible name), so the page reads the same to a screen reader and without JavaScript.

use leptos::prelude::*;

use super::Dashboard;

/// A titled chart area; `id` picks the chart drawn into it.
#[component]
pub fn ChartBox(
    id: &'static str,
    title: &'static str,
    dashboard: StoredValue<Dashboard>,
    summary: String,
) -> impl IntoView {
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| dashboard.with_value(|d| draw::chart(id, d)));
    #[cfg(not(feature = "hydrate"))]
    let _ = dashboard;
    view! { <ChartFrame id title summary class="card chart" /> }
}

/// A line of values over time (label, value, how many it averages), e.g. a customer's weekly
/// sentiment on the −1 … 1 scale.
#[component]
pub fn TrendChart(
    id: &'static str,
    title: &'static str,
    points: Vec<(String, f64, i64)>,
    summary: String,
) -> impl IntoView {
    #[cfg(feature = "hydrate")]
    {
        let points = StoredValue::new(points);
        Effect::new(move |_| points.with_value(|p| draw::trend(id, p)));
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = points;
    view! { <ChartFrame id title summary class="chart" /> }
}

/// The markup every chart shares: a heading, the area the browser draws into (an image to
/// assistive technology, named by the summary), the summary in words, and once the page is
/// interactive buttons that download the chart as PNG and as SVG.
#[component]
fn ChartFrame(id: &'static str, title: &'static str, summary: String, class: &'static str) -> impl IntoView {
    let heading = format!("{id}-title");
    let labelled_by = heading.clone();
    // Effects run in the browser only: without JavaScript there is no button that cannot work.
    let interactive = RwSignal::new(false);
    Effect::new(move |_| interactive.set(true));
    let download = move |format: &'static str| {
        move |_| {
            #[cfg(feature = "hydrate")]
            draw::download(id, format);
            #[cfg(not(feature = "hydrate"))]
            let _ = format;
        }
    };
    view! {
        <figure class=class aria-labelledby=labelled_by>
            <h2 id=heading>{title}</h2>
            <div id=id class="chart-canvas" role="img" aria-label=summary.clone()></div>
            <figcaption class="chart-summary">
                {summary}
                <Show when=move || interactive.get()>
                    " "
                    <button type="button" class="chart-download chart-png" on:click=download("png")
                        aria-label=format!("Download PNG of {title}")>
                        "Download PNG"
                    </button>
                    " "
                    <button type="button" class="chart-download chart-svg" on:click=download("svg")
                        aria-label=format!("Download SVG of {title}")>
                        "Download SVG"
                    </button>
                </Show>
            </figcaption>
        </figure>
    }
}

#[cfg(feature = "hydrate")]
mod draw {
    use charming::component::{Axis, Legend, VisualMap};
    use charming::datatype::DataPoint;
    use charming::element::{AxisType, Label, NameLocation, Orient, Tooltip, Trigger};
    use charming::series::{Bar, Heatmap, Line};
    use charming::{Chart, WasmRenderer};
    use js_sys::{Function, Reflect};
    use std::cell::RefCell;
    use std::collections::HashMap;
    use wasm_bindgen::{JsCast, JsValue};

    use super::Dashboard;

    /// Draws chart `id` into its element, sized to it. Does nothing when the ECharts script
    /// did not load (charming's bindings would throw and stop the page's interactivity).
    pub fn chart(id: &str, d: &Dashboard) {
        let chart = match id {
            "chart-sentiment" => sentiment(d),
            "chart-revenue" => revenue(d),
            "chart-channels" => channels(d),
            "chart-segments" => segments(d),
            _ => return,
        };
        render(id, chart);
    }

    /// A line of `points` on the sentiment scale, with the texts behind each as bars.
    pub fn trend(id: &str, points: &[(String, f64, i64)]) {
        let labels = points.iter().map(|p| p.0.clone()).collect();
        let sentiment = points.iter().map(|p| Some(p.1)).collect::<Vec<_>>();
        let volume = points.iter().map(|p| p.2).collect();
        render(id, sentiment_over_volume(labels, &sentiment, "Texts", volume));
    }

    /// Average sentiment (−1 … 1, a gap where there is none) as a line over a volume as bars:
    /// the dashboard's trend and a customer's.
    fn sentiment_over_volume(
        labels: Vec<String>,
        sentiment: &[Option<f64>],
        volume_name: &'static str,
        volume: Vec<i64>,
    ) -> Chart {
        let polarity: Vec<DataPoint> = sentiment
            .iter()
            .map(|s| match s {
                Some(s) => DataPoint::from((s * 1000.0).round() / 1000.0),
                None => DataPoint::from("-"),
            })
            .collect();
        Chart::new()
            .tooltip(Tooltip::new().trigger(Trigger::Axis))
            .legend(Legend::new().data(vec!["Average sentiment", volume_name]))
            .x_axis(Axis::new().type_(AxisType::Category).data(labels))
            .y_axis(
                Axis::new()
                    .type_(AxisType::Value)
                    .name("Sentiment")
                    .min(-1)
                    .max(1),
            )
            .y_axis(Axis::new().type_(AxisType::Value).name(volume_name))
            .series(Bar::new().name(volume_name).y_axis_index(1).data(volume))
            .series(Line::new().name("Average sentiment").data(polarity))
    }

    thread_local! {
        /// Each chart's last drawn options (ECharts JSON) and size, for the SVG download.
        static DRAWN: RefCell<HashMap<String, (String, u32)>> = RefCell::new(HashMap::new());
    }

    /// Downloads chart `id` as drawn: `png` is the chart on the page at twice its pixels on
    /// white; `svg` has ECharts draw the same options once more with its SVG renderer into a
    /// string (its server-side mode), without animation.
    pub fn download(id: &str, format: &str) {
        let href = match format {
            "png" => png_url(id),
            _ => svg_url(id),
        };
        let Ok(href) = href else { return };
        let Some(document) = web_sys::window().and_then(|w| w.document()) else {
            return;
        };
        let Ok(link) = document.create_element("a") else {
            return;
        };
        let _ = link.set_attribute("href", &href);
        let _ = link.set_attribute("download", &format!("sightline-{id}.{format}"));
        if let Ok(click) = Reflect::get(&link, &"click".into()).and_then(|f| f.dyn_into::<Function>()) {
            let _ = click.call0(&link);
        }
    }

    fn echarts() -> Result<JsValue, JsValue> {
        let window: JsValue = web_sys::window().ok_or(JsValue::NULL)?.into();
        Reflect::get(&window, &"echarts".into())
    }

    fn method(object: &JsValue, name: &str) -> Result<Function, JsValue> {
        Reflect::get(object, &name.into())?.dyn_into()
    }

    fn png_url(id: &str) -> Result<String, JsValue> {
        let echarts = echarts()?;
        let element = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.get_element_by_id(id))
            .ok_or(JsValue::NULL)?;
        let chart = method(&echarts, "getInstanceByDom")?.call1(&echarts, &element)?;
        let settings = js_sys::Object::new();
        Reflect::set(&settings, &"type".into(), &"png".into())?;
        Reflect::set(&settings, &"pixelRatio".into(), &2.into())?;
        Reflect::set(&settings, &"backgroundColor".into(), &"#fff".into())?;
        method(&chart, "getDataURL")?
            .call1(&chart, &settings)?
            .as_string()
            .ok_or(JsValue::NULL)
    }

    fn svg_url(id: &str) -> Result<String, JsValue> {
        let (options, width) = DRAWN
            .with(|drawn| drawn.borrow().get(id).cloned())
            .ok_or(JsValue::NULL)?;
        let echarts = echarts()?;
        let settings = js_sys::Object::new();
        Reflect::set(&settings, &"renderer".into(), &"svg".into())?;
        Reflect::set(&settings, &"ssr".into(), &true.into())?;
        Reflect::set(&settings, &"width".into(), &width.into())?;
        Reflect::set(&settings, &"height".into(), &HEIGHT.into())?;
        let chart = method(&echarts, "init")?.call3(&echarts, &JsValue::NULL, &JsValue::NULL, &settings)?;
        let options = js_sys::JSON::parse(&options)?;
        Reflect::set(&options, &"animation".into(), &false.into())?;
        method(&chart, "setOption")?.call1(&chart, &options)?;
        let svg = method(&chart, "renderToSVGString")?.call0(&chart)?;
        method(&chart, "dispose")?.call0(&chart)?;
        let svg = svg.as_string().ok_or(JsValue::NULL)?;
        Ok(format!(
            "data:image/svg+xml;charset=utf-8,{}",
            js_sys::encode_uri_component(&svg)
        ))
    }

    const HEIGHT: u32 = 300;

    /// Draws `chart` into element `id`. A view that replaces an older one (a live refresh)
    /// is mounted a moment after its effects run, so a missing element is looked for again
    /// on the next frames.
    fn render(id: &str, chart: Chart) {
        fn attempt(id: String, chart: Chart, tries_left: u32) {
            let Some(window) = web_sys::window() else { return };
            if !Reflect::has(&window, &JsValue::from_str("echarts")).unwrap_or(false) {
                return;
            }
            match window.document().and_then(|doc| doc.get_element_by_id(&id)) {
                Some(element) => {
                    let width = element.client_width().max(280) as u32;
                    if WasmRenderer::new(width, HEIGHT).render(&id, &chart).is_ok() {
                        DRAWN.with(|drawn| drawn.borrow_mut().insert(id, (chart.to_string(), width)));
                    }
                }
                None if tries_left > 0 => {
                    leptos::prelude::request_animation_frame(move || attempt(id, chart, tries_left - 1))
                }
                None => {}
            }
        }
        attempt(id.to_owned(), chart, 30);
    }

    fn labels(d: &Dashboard) -> Vec<String> {
        d.series.iter().map(|b| b.start.clone()).collect()
    }

    fn sentiment(d: &Dashboard) -> Chart {
        let sentiment: Vec<Option<f64>> = d.series.iter().map(|b| b.sentiment).collect();
        let volume = d.series.iter().map(|b| b.interactions).collect();
        sentiment_over_volume(labels(d), &sentiment, "Interactions", volume)
    }

    fn revenue(d: &Dashboard) -> Chart {
        Chart::new()
            .tooltip(Tooltip::new().trigger(Trigger::Axis))
            .legend(Legend::new().data(vec!["Revenue", "Orders"]))
            .x_axis(Axis::new().type_(AxisType::Category).data(labels(d)))
            .y_axis(
                Axis::new()
                    .type_(AxisType::Value)
                    .name(d.currency.clone().unwrap_or_default()),
            )
            .y_axis(Axis::new().type_(AxisType::Value).name("Orders"))
            .series(
                Bar::new().name("Revenue").data(
                    d.series
                        .iter()
                        .map(|b| (b.revenue * 100.0).round() / 100.0)
                        .collect::<Vec<_>>(),
                ),
            )
            .series(
                Line::new()
                    .name("Orders")
                    .y_axis_index(1)
                    .data(d.series.iter().map(|b| b.orders).collect::<Vec<_>>()),
            )
    }

    fn channels(d: &Dashboard) -> Chart {
        Chart::new()
            .tooltip(Tooltip::new().trigger(Trigger::Axis))
            .legend(Legend::new().data(vec!["Interactions", "Orders", "Scored texts"]))
            .x_axis(
                Axis::new()
                    .type_(AxisType::Category)
                    .data(d.channels.iter().map(|c| c.channel.clone()).collect::<Vec<_>>()),
            )
            .y_axis(Axis::new().type_(AxisType::Value))
            .series(
                Bar::new()
                    .name("Interactions")
                    .data(d.channels.iter().map(|c| c.interactions).collect::<Vec<_>>()),
            )
            .series(
                Bar::new()
                    .name("Orders")
                    .data(d.channels.iter().map(|c| c.orders).collect::<Vec<_>>()),
            )
            .series(
                Bar::new()
                    .name("Scored texts")
                    .data(d.channels.iter().map(|c| c.texts).collect::<Vec<_>>()),
            )
    }

    /// The RFM map: customers by recency score (x) and frequency score (y), 5 = best.
    fn segments(d: &Dashboard) -> Chart {
        let max = d.rfm_grid.iter().map(|c| c.customers).max().unwrap_or(0).max(1) as f64;
        let cells: Vec<Vec<DataPoint>> = d
            .rfm_grid
            .iter()
            .map(|c| {
                vec![
                    DataPoint::from(i64::from(c.r - 1)),
                    DataPoint::from(i64::from(c.f - 1)),
                    DataPoint::from(c.customers),
                ]
            })
            .collect();
        let scores: Vec<String> = (1..=5).map(|s| s.to_string()).collect();
        Chart::new()
            .tooltip(Tooltip::new().trigger(Trigger::Item))
            .x_axis(
                Axis::new()
                    .type_(AxisType::Category)
                    .name("Recency score")
                    .name_location(NameLocation::Middle)
                    .name_gap(25)
                    .data(scores.clone()),
            )
            .y_axis(
                Axis::new()
                    .type_(AxisType::Category)
                    .name("Frequency score")
                    .name_location(NameLocation::Middle)
                    .name_gap(25)
                    .data(scores),
            )
            .visual_map(
                VisualMap::new()
                    .min(0)
                    .max(max)
                    .calculable(true)
                    .orient(Orient::Horizontal)
                    .left("center")
                    .top(0),
            )
            .series(
                Heatmap::new()
                    .name("Customers")
                    .label(Label::new().show(true))
                    .data(cells),
            )
    }
}
