// Numbers as a person reads them, in the page's language: bandwidth in Mbit/s with the decimal comma in Indonesian
// ("2,4 Mbit/s") and the decimal point in English ("2.4 Mbit/s"). (A shared formatter for the whole product will
// replace this; until then it is the one place the check formats numbers.)
const lang = () => document.documentElement.lang || "id";

export function formatNumber(value, digits) {
  return new Intl.NumberFormat(lang(), { minimumFractionDigits: digits, maximumFractionDigits: digits }).format(value);
}

// kbit/s (what the server measures and the profile's thresholds are in) shown as Mbit/s.
export function formatMbit(kbps) {
  const mbps = kbps / 1000;
  return formatNumber(mbps, mbps >= 100 ? 0 : 1) + " Mbit/s";
}

export const formatMegabytes = (bytes) => formatNumber(bytes / 1e6, 1);
