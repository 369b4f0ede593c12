//! The size-budget picture of a packed set: one horizontal bar per ROM, its images
//! stacked in chain order, padding hatched, and a red line at its bucket. Plain
//! HTML with inline SVG: no scripts, no external resources.

use crate::pack::PackReport;
use crate::size::human;

/// Fill colour of each image kind.
pub fn colour(label: &str) -> &'static str {
    match label {
        "legacy" => "#7f7f7f",
        "x64" => "#1f77b4",
        "ia32" => "#17becf",
        "aa64" => "#2ca02c",
        "riscv64" => "#ff7f0e",
        "loongarch64" => "#9467bd",
        _ => "#8c564b",
    }
}

/// Colour of the bucket line.
pub const BUCKET_COLOUR: &str = "#d62728";

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Render the report as a standalone HTML page.
pub fn render(report: &PackReport) -> String {
    const LABEL_W: f64 = 330.0;
    const BAR_W: f64 = 640.0;
    const ROW_H: f64 = 34.0;
    const TOP: f64 = 40.0;
    let scale_max =
        report.roms.iter().map(|r| r.bucket.unwrap_or(0).max(r.file_size)).max().unwrap_or(1).max(1) as f64 * 1.05;
    let x = |bytes: u64| LABEL_W + BAR_W * bytes as f64 / scale_max;
    let height = TOP + ROW_H * report.roms.len() as f64 + 50.0;
    let width = LABEL_W + BAR_W + 190.0;
    let mut svg = String::new();
    svg += &format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" font-family=\"sans-serif\" font-size=\"12\">\n"
    );
    svg += "<defs><pattern id=\"pad\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\"><rect width=\"6\" height=\"6\" fill=\"#eeeeee\"/><line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" stroke=\"#bbbbbb\" stroke-width=\"2\"/></pattern></defs>\n";
    svg += &format!(
        "<text x=\"{LABEL_W}\" y=\"20\" font-weight=\"bold\">{}: {} ROMs, layout {}</text>\n",
        escape(report.name.as_deref().unwrap_or("ROM set")),
        report.roms.len(),
        match report.layout {
            crate::manifest::Layout::Combined => "combined",
            crate::manifest::Layout::PerArch => "per-arch",
            crate::manifest::Layout::Both => "combined + per-arch",
        }
    );
    for (i, rom) in report.roms.iter().enumerate() {
        let y = TOP + ROW_H * i as f64;
        let over = rom.bucket.is_some_and(|b| rom.content_size > b);
        svg += &format!(
            "<g class=\"rom\" data-path=\"{}\"><text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\n",
            escape(&rom.path),
            LABEL_W - 8.0,
            y + 17.0,
            escape(&rom.path)
        );
        let mut at = 0u64;
        for image in &rom.images {
            svg += &format!(
                "<rect class=\"image\" data-label=\"{}\" x=\"{:.1}\" y=\"{y}\" width=\"{:.1}\" height=\"22\" fill=\"{}\"><title>{}: {} bytes</title></rect>\n",
                escape(&image.label),
                x(at),
                x(at + image.size) - x(at),
                colour(&image.label),
                escape(&image.label),
                image.size
            );
            at += image.size;
        }
        if rom.file_size > rom.content_size {
            svg += &format!(
                "<rect class=\"padding\" x=\"{:.1}\" y=\"{y}\" width=\"{:.1}\" height=\"22\" fill=\"url(#pad)\"><title>padding: {} bytes</title></rect>\n",
                x(rom.content_size),
                x(rom.file_size) - x(rom.content_size),
                rom.file_size - rom.content_size
            );
        }
        if let Some(bucket) = rom.bucket {
            svg += &format!(
                "<line class=\"bucket\" x1=\"{0:.1}\" x2=\"{0:.1}\" y1=\"{1}\" y2=\"{2}\" stroke=\"{BUCKET_COLOUR}\" stroke-width=\"3\"><title>bucket {3}</title></line>\n",
                x(bucket),
                y - 4.0,
                y + 26.0,
                human(bucket)
            );
        }
        let note = match (rom.headroom, over) {
            (Some(h), true) => format!("OVER by {} B", -h),
            (Some(h), false) => format!("{} headroom", human_signed(h)),
            (None, _) => format!("BAR {}", human(rom.bar_size)),
        };
        svg += &format!(
            "<text x=\"{}\" y=\"{}\" fill=\"{}\">{}</text></g>\n",
            LABEL_W + BAR_W + 10.0,
            y + 17.0,
            if over { BUCKET_COLOUR } else { "#333333" },
            escape(&note)
        );
    }
    let legend_y = TOP + ROW_H * report.roms.len() as f64 + 20.0;
    let mut lx = LABEL_W;
    for label in ["legacy", "x64", "ia32", "aa64", "riscv64", "loongarch64"] {
        svg += &format!(
            "<rect x=\"{lx}\" y=\"{legend_y}\" width=\"12\" height=\"12\" fill=\"{}\"/><text x=\"{}\" y=\"{}\">{label}</text>\n",
            colour(label),
            lx + 16.0,
            legend_y + 11.0
        );
        lx += 95.0;
    }
    svg += "</svg>\n";
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>optrom size budget</title>\n<style>body{{margin:16px;background:#fff}}</style></head>\n<body>\n{svg}</body></html>\n"
    )
}

fn human_signed(bytes: i64) -> String {
    if bytes >= 1024 { format!("{:.1} KiB", bytes as f64 / 1024.0) } else { format!("{bytes} B") }
}
