"""Rich tables of a world: what it holds and what must come of it (for `sim scenario show`)."""
from __future__ import annotations

from rich.console import Console
from rich.table import Table

from .generate import World
from .truth import CHOICES


def _short(refs: list[str], names: dict[str, str], limit: int = 6) -> str:
    shown = [f"{r} {names.get(r, '')!r}" for r in refs[:limit]]
    return ", ".join(shown) + (f" … (+{len(refs) - limit})" if len(refs) > limit else "")


def show(world: World, console: Console) -> None:
    sc, t = world.scenario, world.truth
    console.print(f"[bold]{sc.name}[/]  {sc.description}")
    console.print(f"file {sc.file}  seed {world.seed}  scale {world.scale}  size {sc.size}  "
                  f"locale {sc.locale}  epoch {sc.epoch}")
    counts = Table(title="World")
    counts.add_column("records")
    counts.add_column("count", justify="right")
    for k, v in t["counts"].items():
        counts.add_row(k, str(v))
    console.print(counts)

    gates = Table(title="Gates (R2 -> R3 -> R1; R13)")
    for col in ("member", "connect", "items step"):
        gates.add_column(col)
    for g in t["gates"]:
        gates.add_row(g["email"], g["connect"], g["items_step"])
    console.print(gates)

    contacts = Table(title="Contacts by import choice (R5-R10)")
    for col in ("choice", "matches", "new", "unmatched", "duplicates", "pages"):
        contacts.add_column(col, justify="right" if col != "choice" else "left")
    for choice in CHOICES:
        c = t["contacts"][choice]
        contacts.add_row(choice, *(str(c["counts"][k]) for k in ("matches", "new", "unmatched", "duplicates")),
                         " ".join(f"{k[:3]}:{v}" for k, v in c["pages"].items()))
    console.print(contacts)
    names = t["names"]
    a = t["contacts"]["All"]
    console.print(f"  e.g. matched (All): {', '.join(f'{c}~{q} {names[c]!r}' for c, q in a['matched'][:4])}")
    console.print(f"  e.g. duplicates (All): {_short(a['duplicates']['clients'] + a['duplicates']['customers'], names)}")

    items = Table(title="Service items (R15, R16)")
    for col in ("canopy", "qbo", "kind", "differs", "fix"):
        items.add_column(col)
    for c, q in t["items"]["matched"][:20]:
        items.add_row(f"{c} {names[c]}", f"{q} {names[q]}", "matched", "", "")
    for u in t["items"]["unmatched"][:20]:
        items.add_row(f"{u['canopy'] or '-'} {names.get(u['canopy'] or '', '')}",
                      f"{u['qbo'] or '-'} {names.get(u['qbo'] or '', '')}", u["kind"], ",".join(u["differs"]),
                      str(u["fix"] or ""))
    console.print(items)

    inv = Table(title="Invoices at Finish (R17, R19) and payments (R23)")
    for col in ("choice", "sent", "held", "payments sent", "payments waiting"):
        inv.add_column(col)
    for choice in CHOICES:
        i = t["invoices"][choice]
        inv.add_row(choice, str(len(i["sent"])), str(len(i["held"])), str(len(i["payments"]["sent"])),
                    str(len(i["payments"]["waiting"])))
    console.print(inv)
