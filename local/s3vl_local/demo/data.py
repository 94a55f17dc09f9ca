"""The committed demo data set (data/demo/, made by scripts/make-demo-data.py)."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

DATA_DIR = Path(__file__).resolve().parents[3] / "data" / "demo"


@dataclass(frozen=True)
class Product:
    product_id: str
    name: str
    description: str
    category: str
    price: float
    stock: int
    tenant: str

    def metadata(self) -> dict[str, str | float | int]:
        """What goes into S3 Vectors next to the vector (description is non-filterable)."""
        return {"name": self.name, "category": self.category, "price": self.price,
                "stock": self.stock, "tenant": self.tenant, "description": self.description}


@dataclass(frozen=True)
class DemoData:
    products: list[Product]
    product_vectors: npt.NDArray[np.float32]
    queries: list[str]
    query_vectors: npt.NDArray[np.float32]


def load(data_dir: Path = DATA_DIR) -> DemoData:
    with open(data_dir / "products.csv", newline="", encoding="utf-8") as fh:
        products = [
            Product(row["product_id"], row["name"], row["description"], row["category"],
                    float(row["price"]), int(row["stock"]), row["tenant"])
            for row in csv.DictReader(fh)
        ]
    product_vectors = np.load(data_dir / "product_embeddings.npy").astype(np.float32)
    queries = json.loads((data_dir / "queries.json").read_text())
    query_vectors = np.load(data_dir / "query_embeddings.npy").astype(np.float32)
    if product_vectors.shape[0] != len(products) or query_vectors.shape[0] != len(queries):
        raise ValueError(f"{data_dir}: embedding rows do not match the CSV/JSON rows")
    return DemoData(products, product_vectors, queries, query_vectors)
