"""Inline SVG charts of TFMA's plots (ROC, precision-recall, calibration): no script, no network."""
import html


def svg_curve(points: list, x_label: str, y_label: str, title: str, diagonal: bool = False,
              dots: bool = False) -> str:
  """A small line (or dot) chart of (x, y) points in [0, 1]^2 as inline SVG."""
  w, h, pad = 320, 260, 40

  def xy(x, y):
    return pad + x * (w - 1.5 * pad), h - pad - y * (h - 1.5 * pad)

  parts = [f'<svg class="chart" role="img" aria-label="{html.escape(title)}" width="{w}" height="{h}" '
           f'viewBox="0 0 {w} {h}" xmlns="http://www.w3.org/2000/svg">',
           f'<text x="{w / 2}" y="14" text-anchor="middle" class="title">{html.escape(title)}</text>']
  x0, y0 = xy(0, 0)
  x1, y1 = xy(1, 1)
  parts.append(f'<rect x="{x0}" y="{y1}" width="{x1 - x0}" height="{y0 - y1}" class="frame"/>')
  for t in (0.25, 0.5, 0.75):
    gx, _ = xy(t, 0)
    _, gy = xy(0, t)
    parts.append(f'<line x1="{gx}" y1="{y0}" x2="{gx}" y2="{y1}" class="grid"/>')
    parts.append(f'<line x1="{x0}" y1="{gy}" x2="{x1}" y2="{gy}" class="grid"/>')
  for t in (0, 0.5, 1):
    gx, _ = xy(t, 0)
    _, gy = xy(0, t)
    parts.append(f'<text x="{gx}" y="{y0 + 14}" text-anchor="middle">{t:g}</text>')
    parts.append(f'<text x="{x0 - 6}" y="{gy + 4}" text-anchor="end">{t:g}</text>')
  parts.append(f'<text x="{(x0 + x1) / 2}" y="{h - 6}" text-anchor="middle">{html.escape(x_label)}</text>')
  parts.append(f'<text x="12" y="{(y0 + y1) / 2}" text-anchor="middle" '
               f'transform="rotate(-90 12 {(y0 + y1) / 2})">{html.escape(y_label)}</text>')
  if diagonal:
    parts.append(f'<line x1="{x0}" y1="{y0}" x2="{x1}" y2="{y1}" class="diagonal"/>')
  clean = [(min(max(x, 0), 1), min(max(y, 0), 1)) for x, y in points if x == x and y == y]
  if dots:
    parts += [f'<circle cx="{xy(x, y)[0]:.1f}" cy="{xy(x, y)[1]:.1f}" r="3" class="dot"/>' for x, y in clean]
  elif clean:
    path = " ".join(f"{xy(x, y)[0]:.1f},{xy(x, y)[1]:.1f}" for x, y in clean)
    parts.append(f'<polyline points="{path}" class="curve"/>')
  parts.append("</svg>")
  return "".join(parts)


def roc_pr_points(plots: dict) -> tuple[list, list]:
  """(ROC points, precision-recall points) from TFMA's confusion matrices at thresholds."""
  matrices = plots.get("confusionMatrixAtThresholds", {}).get("matrices", [])
  roc, pr = [], []
  for m in matrices:
    tp, fp = m.get("truePositives", 0.0), m.get("falsePositives", 0.0)
    tn, fn = m.get("trueNegatives", 0.0), m.get("falseNegatives", 0.0)
    if tp + fn and fp + tn:
      roc.append((fp / (fp + tn), tp / (tp + fn)))
    if tp + fp and tp + fn:
      pr.append((tp / (tp + fn), tp / (tp + fp)))
  return sorted(roc), sorted(pr)


def calibration_points(plots: dict, bins: int = 10) -> list:
  """(mean prediction, fraction positive) in `bins` equal-width prediction bins,
  pooled from TFMA's fine calibration histogram."""
  pooled = [[0.0, 0.0, 0.0] for _ in range(bins)]  # examples, label sum, prediction sum
  for bucket in plots.get("calibrationHistogramBuckets", {}).get("buckets", []):
    n = bucket.get("numWeightedExamples", 0.0)
    if not n:
      continue
    mean = bucket.get("totalWeightedRefinedPrediction", 0.0) / n
    b = pooled[min(max(int(mean * bins), 0), bins - 1)]
    b[0] += n
    b[1] += bucket.get("totalWeightedLabel", 0.0)
    b[2] += bucket.get("totalWeightedRefinedPrediction", 0.0)
  return [(p / n, label / n) for n, label, p in pooled if n]


def overall_charts(plots: dict) -> list[str]:
  """The three charts of the overall slice, as SVG markup."""
  roc, pr = roc_pr_points(plots)
  return [svg_curve(roc, "false positive rate", "true positive rate", "ROC curve", diagonal=True),
          svg_curve(pr, "recall", "precision", "Precision-recall curve"),
          svg_curve(calibration_points(plots), "mean prediction", "fraction positive",
                    "Calibration (by prediction bucket)", diagonal=True, dots=True)]
