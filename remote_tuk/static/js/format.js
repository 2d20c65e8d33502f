// format.js — the ONE formatter for times, numbers and durations in the browser, so that a page says what the
// server says: times in the LSP's time zone (WIB, WITA or WIT, from the LSP profile) followed by the zone's name,
// numbers with the page language's separators (Indonesian: 9.474,2), durations in words of the page's language.
//
// Page data: base.html puts <script type="application/json" id="rtuk-format"> in every page (views.py
// format_page_data): {"locale": "id", "intl": "id-ID", "zone": "Asia/Jakarta", "zoneLabel": "WIB",
// "units": {"h": "{n} jam", "min": "{n} menit", "s": "{n} detik"}}. This file is loaded (deferred) before every
// page script, so page scripts can call it directly:
//
//   RtukFormat.dateTime(iso)        "04 Des 2026 14:05 WIB"   (a Date, an ISO 8601 string or epoch milliseconds)
//   RtukFormat.date(iso)            "04 Des 2026"
//   RtukFormat.time(iso)            "14:05 WIB";  RtukFormat.time(iso, {seconds: true}) "14:05:09 WIB";
//                                   {zone: false} leaves the zone's name off (a column whose heading names it)
//   RtukFormat.number(9474.194, 1)  "9.474,2"    (English page: "9,474.2")
//   RtukFormat.mbps(9474194)        "9,5 Mbit/s" (bits per second in; one decimal)
//   RtukFormat.duration(3725)       "1 jam 2 menit"  (seconds in; the two largest units)
//   RtukFormat.zoneLabel            "WIB"
//
// Values that are not a time give "–". Strings shown to people come from the template, never from this file.
(function () {
  "use strict";
  const node = document.getElementById("rtuk-format");
  const data = Object.assign(
    { locale: "id", intl: "id-ID", zone: "Asia/Jakarta", zoneLabel: "WIB", units: { h: "{n} h", min: "{n} min", s: "{n} s" } },
    node ? JSON.parse(node.textContent) : {}
  );

  const parts = (options) => {
    const f = new Intl.DateTimeFormat(data.intl, Object.assign({ timeZone: data.zone, hourCycle: "h23" }, options));
    return (d) => Object.fromEntries(f.formatToParts(d).map((p) => [p.type, p.value]));
  };
  const dayParts = parts({ day: "2-digit", month: "short", year: "numeric" });
  const clockParts = parts({ hour: "2-digit", minute: "2-digit", second: "2-digit" });

  function toDate(value) {
    if (value === null || value === undefined || value === "") return null;
    const d = value instanceof Date ? value : new Date(value);
    return isNaN(d.getTime()) ? null : d;
  }

  function date(value) {
    const d = toDate(value);
    if (!d) return "–";
    const p = dayParts(d);
    return `${p.day} ${p.month.replace(/\.$/, "")} ${p.year}`;
  }

  function time(value, options) {
    const opts = Object.assign({ seconds: false, zone: true }, options || {});
    const d = toDate(value);
    if (!d) return "–";
    const p = clockParts(d);
    const hour = p.hour === "24" ? "00" : p.hour;
    const text = opts.seconds ? `${hour}:${p.minute}:${p.second}` : `${hour}:${p.minute}`;
    return opts.zone ? `${text} ${data.zoneLabel}` : text;
  }

  function dateTime(value) {
    const d = toDate(value);
    return d ? `${date(d)} ${time(d)}` : "–";
  }

  const numberFormats = {};
  function number(value, decimals) {
    const n = Number(value);
    if (!isFinite(n)) return "–";
    const digits = decimals || 0;
    if (!numberFormats[digits]) {
      numberFormats[digits] = new Intl.NumberFormat(data.intl, { minimumFractionDigits: digits, maximumFractionDigits: digits });
    }
    return numberFormats[digits].format(n);
  }

  function mbps(bitsPerSecond, decimals) {
    return `${number(Number(bitsPerSecond) / 1e6, decimals === undefined ? 1 : decimals)} Mbit/s`;
  }

  function duration(seconds) {
    const total = Math.round(Number(seconds));
    if (!isFinite(total)) return "–";
    const h = Math.floor(total / 3600), m = Math.floor((total % 3600) / 60), s = total % 60;
    const shown = [[h, data.units.h], [m, data.units.min], [s, data.units.s]]
      .filter(([amount]) => amount > 0).slice(0, 2)
      .map(([amount, unit]) => unit.replace("{n}", number(amount)));
    return shown.length ? shown.join(" ") : data.units.s.replace("{n}", "0");
  }

  window.RtukFormat = Object.freeze({
    date, time, dateTime, number, mbps, duration,
    locale: data.locale, zone: data.zone, zoneLabel: data.zoneLabel,
  });
})();
