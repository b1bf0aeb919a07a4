// Only the ECharts parts the dashboard draws, so the lazily loaded chunk stays small.
import { BarChart } from "echarts/charts";
import { GridComponent, TitleComponent, TooltipComponent } from "echarts/components";
import { init, use } from "echarts/core";
import { SVGRenderer } from "echarts/renderers";

use([BarChart, GridComponent, TitleComponent, TooltipComponent, SVGRenderer]);

export function barChart(element: HTMLElement, labels: string[], values: number[], title: string): { dispose(): void } {
  const chart = init(element, undefined, { renderer: "svg" });
  chart.setOption({
    title: { text: title, textStyle: { fontSize: 13, fontWeight: "normal" } },
    tooltip: {},
    grid: { left: 48, right: 16, top: 40, bottom: 28 },
    xAxis: { type: "category", data: labels },
    yAxis: { type: "value", name: "ms" },
    series: [{ type: "bar", data: values, itemStyle: { color: "#3465a4" } }],
    animation: false,
  });
  return chart;
}
