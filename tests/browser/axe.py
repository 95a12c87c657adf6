"""Accessibility and layout checks for console pages in the browser: axe-core (vendored under
``vendor/axe-core``, run through the DevTools protocol so the console's strict CSP needs no
exception), no horizontal overflow at a phone's width, and a screenshot at each width."""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path
from typing import Any, Final

from tests.browser.conftest import screenshot

AXE: Final = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
AXE_SHA256: Final = "b511cd9dec01c76f4b2ad1723b66b6db37d4c2eb4ed199076e1829d9ee7b75e3"  # axe-core 4.10.2
BLOCKING: Final = ("serious", "critical")
DESKTOP: Final = {"width": 1280, "height": 900}
PHONE: Final = {"width": 390, "height": 844}


@cache
def axe_source() -> str:
    data = AXE.read_bytes()
    assert hashlib.sha256(data).hexdigest() == AXE_SHA256, "vendored axe-core changed"
    return data.decode("utf-8")


def violations(page: Any) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page (WCAG 2.1 A and AA, best practices)."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(axe_source())
    found: list[dict[str, Any]] = page.evaluate(
        """async () => {
            const result = await axe.run(document, {resultTypes: ['violations']});
            return result.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 5).map(n => n.target.join(' '))
            }));
        }"""
    )
    return [v for v in found if v["impact"] in BLOCKING]


def overflow(page: Any) -> list[str]:
    """Elements sticking out to the right of the viewport (what makes a phone scroll sideways)."""
    result: list[str] = page.evaluate(
        """() => {
            const width = document.documentElement.clientWidth;
            const out = [];
            if (document.documentElement.scrollWidth > width + 1) {
                for (const el of document.querySelectorAll('body *')) {
                    const box = el.getBoundingClientRect();
                    if (box.right > width + 1 && box.width > 0) {
                        let clipped = false;
                        for (let p = el.parentElement; p; p = p.parentElement) {
                            const style = getComputedStyle(p);
                            if (['auto', 'hidden', 'scroll'].includes(style.overflowX)) {
                                clipped = true;
                                break;
                            }
                        }
                        const name = el.tagName.toLowerCase() + (el.id ? '#' + el.id : '');
                        if (!clipped) out.push(name + ' ' + Math.round(box.right));
                    }
                }
                if (!out.length) out.push('document ' + document.documentElement.scrollWidth);
            }
            return out.slice(0, 10);
        }"""
    )
    return result


def check_page(page: Any, name: str) -> None:
    """The page as it is, at desktop and phone widths: a screenshot each, no serious or critical
    axe violation, nothing wider than the phone's screen. The page is left at desktop width."""
    for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(size)
        screenshot(page, f"console-{name}-{label}")
        assert not violations(page), f"{name} ({label}): {violations(page)}"
        if label == "phone":
            assert not overflow(page), f"{name} overflows at 390 px: {overflow(page)}"
    page.set_viewport_size(DESKTOP)
