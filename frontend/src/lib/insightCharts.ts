// The insights page's trend charts: one ECharts line per key, a point per bucket.
// Loaded lazily with ECharts. Each chart is registered on `window.heatshieldCharts`
// by its name, so a browser test can find a point's pixel and click it.
import { LineChart } from "echarts/charts";
import { GridComponent, TooltipComponent } from "echarts/components";
import { init, use } from "echarts/core";
import { SVGRenderer } from "echarts/renderers";

use([LineChart, GridComponent, TooltipComponent, SVGRenderer]);

export interface TrendChart {
  dispose(): void;
}

declare global {
  interface Window {
    heatshieldCharts?: Record<string, unknown>;
  }
}

export function trendChart(
  element: HTMLElement,
  name: string,
  labels: string[],
  values: (number | null)[],
  unit: string,
  onPoint: (index: number) => void,
): TrendChart {
  const chart = init(element, undefined, { renderer: "svg" });
  chart.setOption({
    tooltip: { trigger: "item", valueFormatter: (v: unknown) => (v == null ? "no data" : `${String(v)} ${unit}`) },
    grid: { left: 56, right: 16, top: 32, bottom: 28 },
    xAxis: { type: "category", data: labels, axisLabel: { color: "#525a6a" } },
    yAxis: { type: "value", name: unit, nameTextStyle: { color: "#525a6a" }, axisLabel: { color: "#525a6a" } },
    series: [
      {
        type: "line",
        data: values,
        connectNulls: false,
        symbolSize: 10,
        lineStyle: { color: "#2454a6" },
        itemStyle: { color: "#2454a6" },
      },
    ],
    animation: false,
  });
  chart.on("click", (params) => {
    if (typeof params.dataIndex === "number") onPoint(params.dataIndex);
  });
  window.heatshieldCharts = { ...(window.heatshieldCharts ?? {}), [name]: chart };
  return {
    dispose() {
      if (window.heatshieldCharts?.[name] === chart) delete window.heatshieldCharts[name];
      chart.dispose();
    },
  };
}
