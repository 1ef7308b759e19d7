#!/usr/bin/env python3
"""The pretraining step of `interbert bench train`, written in plain PyTorch, for comparison on the same CPU.

Same shapes as the project's presets: batch 32 of 36 tokens + 36 regions (+ the global image token), a single-stream
stack over [image ; text], a text stream and an image stream, poolers fused by product, and the three losses (masked
segment modeling with the tied LM head on the masked positions only, masked region modeling as KL to class
distributions, image-text matching), AdamW with clipping. Measures fp32 and `torch.autocast("cpu", torch.bfloat16)`
(LayerNorm inputs cast to fp32, as the project does). Needs only `torch` (Debian: apt-get install python3-torch).

    python3 benchmarks/pytorch/bench_train.py --preset small
"""
import argparse
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

PRESETS = {
    # hidden, heads, ffn, single-stream, text, image layers, image heads, features, classes, location LayerNorm, image dropout
    "small": dict(h=384, heads=12, ffn=1536, joint=3, text=3, image=3, vheads=6, feat=512, classes=80, loc_ln=True, vdrop=0.2),
    "base": dict(h=768, heads=12, ffn=3072, joint=6, text=6, image=6, vheads=8, feat=2048, classes=1601, loc_ln=False, vdrop=0.2),
}
VOCAB, BI = 30522, 1024


class LayerNorm32(nn.LayerNorm):
    def forward(self, x):
        return F.layer_norm(x.float(), self.normalized_shape, self.weight, self.bias, self.eps)


class Layer(nn.Module):
    def __init__(self, h, heads, ffn, drop):
        super().__init__()
        self.heads, self.drop = heads, drop
        self.q, self.k, self.v, self.o = (nn.Linear(h, h) for _ in range(4))
        self.ln1, self.ln2 = LayerNorm32(h, eps=1e-12), LayerNorm32(h, eps=1e-12)
        self.up, self.down = nn.Linear(h, ffn), nn.Linear(ffn, h)

    def forward(self, x, mask):
        b, length, h = x.shape
        d = h // self.heads
        split = lambda t: t.view(b, length, self.heads, d).transpose(1, 2)
        scores = split(self.q(x)) @ split(self.k(x)).transpose(-1, -2) / math.sqrt(d) + mask
        probs = F.dropout(scores.float().softmax(-1), 0.1, self.training)
        context = (probs @ split(self.v(x))).transpose(1, 2).reshape(b, length, h)
        x = self.ln1(F.dropout(self.o(context), self.drop, self.training) + x)
        return self.ln2(F.dropout(self.down(F.gelu(self.up(x))), self.drop, self.training) + x)


class Head(nn.Module):
    def __init__(self, h, out):
        super().__init__()
        self.dense, self.ln = nn.Linear(h, h), LayerNorm32(h, eps=1e-12)
        self.decoder = nn.Linear(h, out) if out else None

    def forward(self, x):
        x = self.ln(F.gelu(self.dense(x)))
        return self.decoder(x) if self.decoder is not None else x


class InterBertShaped(nn.Module):
    def __init__(self, p):
        super().__init__()
        h = p["h"]
        self.p = p
        self.word, self.position, self.token_type = nn.Embedding(VOCAB, h), nn.Embedding(512, h), nn.Embedding(2, h)
        self.text_ln = LayerNorm32(h, eps=1e-12)
        self.feature, self.location = nn.Linear(p["feat"], h), nn.Linear(5, h)
        self.image_ln, self.location_ln = LayerNorm32(h, eps=1e-12), LayerNorm32(h, eps=1e-12)
        self.joint = nn.ModuleList(Layer(h, p["heads"], p["ffn"], 0.1) for _ in range(p["joint"]))
        self.text = nn.ModuleList(Layer(h, p["heads"], p["ffn"], 0.1) for _ in range(p["text"]))
        self.image = nn.ModuleList(Layer(h, p["vheads"], p["ffn"], p["vdrop"]) for _ in range(p["image"]))
        self.t_pool, self.v_pool = nn.Linear(h, BI), nn.Linear(h, BI)
        self.segment, self.segment_bias = Head(h, 0), nn.Parameter(torch.zeros(VOCAB))
        self.region, self.matching = Head(h, p["classes"]), nn.Linear(BI, 2)

    def forward(self, ids, features, locations, labels, masked, classes, matched):
        b, t = ids.shape
        text = self.word(ids) + self.position(torch.arange(t)) + self.token_type.weight[0]
        text = F.dropout(self.text_ln(text), 0.1, self.training)
        features = torch.cat([features.mean(1, keepdim=True), features], 1)
        locations = torch.cat([torch.tensor([0, 0, 1, 1, 1.0]).expand(b, 1, 5), locations], 1)
        if self.p["loc_ln"]:
            image = (self.image_ln(self.feature(features)) + self.location_ln(self.location(locations))) / 2
        else:
            image = self.image_ln(self.feature(features) + self.location(locations))
        image = F.dropout(image, self.p["vdrop"], self.training)
        r = image.shape[1]
        mask = torch.zeros(b, 1, 1, r + t)
        x = torch.cat([image, text], 1)
        for layer in self.joint:
            x = layer(x, mask)
        image, text = x[:, :r], x[:, r:]
        for layer in self.text:
            text = layer(text, mask[..., r:])
        for layer in self.image:
            image = layer(image, mask[..., :r])
        fused = F.dropout(F.relu(self.t_pool(text[:, 0])).float() * F.relu(self.v_pool(image[:, 0])).float(), 0.1, self.training)
        positions = labels.view(-1).ne(-1).nonzero().squeeze(1)
        segment_logits = F.linear(self.segment(text.reshape(-1, text.shape[-1])[positions]), self.word.weight, self.segment_bias)
        msm = F.cross_entropy(segment_logits.float(), labels.view(-1)[positions])
        region_positions = masked.view(-1).nonzero().squeeze(1)
        region_logits = self.region(image[:, 1:].reshape(-1, image.shape[-1])[region_positions]).float()
        mrm = F.kl_div(region_logits.log_softmax(-1), classes.view(-1, classes.shape[-1])[region_positions], reduction="batchmean")
        itm = F.cross_entropy(self.matching(fused).float(), matched)
        return msm + mrm + itm


def batch(p, size, tokens, regions, seed):
    g = torch.Generator().manual_seed(seed + 1)
    ids = torch.randint(1000, VOCAB, (size, tokens), generator=g)
    labels = torch.where(torch.rand(size, tokens, generator=g) < 0.15, ids, torch.full_like(ids, -1))
    features = torch.randn(size, regions, p["feat"], generator=g)
    corner = torch.rand(size, regions, 2, generator=g) * 0.5
    locations = torch.cat([corner, corner + 0.4, torch.full((size, regions, 1), 0.16)], -1)
    masked = torch.rand(size, regions, generator=g) < 0.15
    classes = torch.randn(size, regions, p["classes"], generator=g).softmax(-1)
    matched = torch.randint(0, 2, (size,), generator=g)
    return ids, features, locations, labels, masked, classes, matched


def run(preset, size, steps, warmup, bf16):
    torch.manual_seed(1)
    p = PRESETS[preset]
    model = InterBertShaped(p).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.01)
    start = None
    for step in range(warmup + steps):
        if step == warmup:
            start = time.perf_counter()
        inputs = batch(p, size, 36, 36, step)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = model(*inputs)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
    seconds = (time.perf_counter() - start) / steps
    return seconds, size / seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", choices=PRESETS, default="small")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"pytorch {torch.__version__} bench train: preset {args.preset}, batch {args.batch_size} (36 tokens + 36 regions per pair), {args.threads} threads")
    baseline = None
    for name, bf16 in (("fp32", False), ("bf16 autocast", True)):
        seconds, rate = run(args.preset, args.batch_size, args.steps, 2, bf16)
        baseline = baseline or rate
        print(f"  {name}: {seconds:.3f} s per step; {rate:.1f} pairs/s ({rate / baseline:.2f}x)")


if __name__ == "__main__":
    main()
