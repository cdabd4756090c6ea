"""PyTorch reference for `kolm bench train --torch`: the same decoder (pre-RMSNorm, RoPE, GQA, SwiGLU, tied
embeddings) and the same optimizer step (clip to norm 1, AdamW with decay on matrices only), timed the same way.
Input: one JSON argument {config, batch, seq, steps, threads}. Output: one JSON line."""
import json, resource, sys, time

import torch
import torch.nn as nn
import torch.nn.functional as F

args = json.loads(sys.argv[1])
c, B, T, steps = args["config"], args["batch"], args["seq"], args["steps"]
torch.set_num_threads(args["threads"])
torch.manual_seed(0)
H, Hkv, D = c["num_attention_heads"], c["num_key_value_heads"], c["head_dim"]
hidden, eps = c["hidden_size"], c["rms_norm_eps"]


class RMSNorm(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * self.weight


def rotate_half(x):
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.input_layernorm, self.post_attention_layernorm = RMSNorm(hidden), RMSNorm(hidden)
        self.q = nn.Linear(hidden, H * D, bias=False)
        self.k = nn.Linear(hidden, Hkv * D, bias=False)
        self.v = nn.Linear(hidden, Hkv * D, bias=False)
        self.o = nn.Linear(H * D, hidden, bias=False)
        self.gate = nn.Linear(hidden, c["intermediate_size"], bias=False)
        self.up = nn.Linear(hidden, c["intermediate_size"], bias=False)
        self.down = nn.Linear(c["intermediate_size"], hidden, bias=False)

    def forward(self, x, cos, sin, mask):
        h = self.input_layernorm(x)
        q = self.q(h).view(B, T, H, D).transpose(1, 2)
        k = self.k(h).view(B, T, Hkv, D).transpose(1, 2)
        v = self.v(h).view(B, T, Hkv, D).transpose(1, 2)
        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        k, v = k.repeat_interleave(H // Hkv, dim=1), v.repeat_interleave(H // Hkv, dim=1)
        att = (q @ k.transpose(-1, -2)) / D**0.5 + mask
        a = (att.softmax(-1) @ v).transpose(1, 2).reshape(B, T, H * D)
        x = x + self.o(a)
        m = self.post_attention_layernorm(x)
        return x + self.down(F.silu(self.gate(m)) * self.up(m))


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(c["vocab_size"], hidden)
        self.layers = nn.ModuleList([Block() for _ in range(c["num_hidden_layers"])])
        self.norm = RMSNorm(hidden)
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.normal_(p, std=c["initializer_range"])

    def forward(self, ids, cos, sin, mask):
        x = self.embed(ids)
        for layer in self.layers:
            x = layer(x, cos, sin, mask)
        return self.norm(x) @ self.embed.weight.t()


model = Model()
inv = 1.0 / (c["rope_theta"] ** (torch.arange(0, D, 2).float() / D))
freqs = torch.outer(torch.arange(T).float(), inv)
emb = torch.cat((freqs, freqs), dim=-1)
cos, sin = emb.cos(), emb.sin()
mask = torch.full((T, T), float("-inf")).triu(1)
decay = [p for n, p in model.named_parameters() if p.dim() > 1 and "embed" not in n]
no_decay = [p for n, p in model.named_parameters() if not (p.dim() > 1 and "embed" not in n)]
opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}], lr=1e-3, betas=(0.9, 0.95))


def step():
    ids = torch.randint(0, c["vocab_size"], (B, T + 1))
    logits = model(ids[:, :-1], cos, sin, mask)
    loss = F.cross_entropy(logits.reshape(-1, c["vocab_size"]), ids[:, 1:].reshape(-1))
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()


for _ in range(2):
    step()
times = []
for _ in range(steps):
    t = time.perf_counter()
    step()
    times.append(time.perf_counter() - t)
times.sort()
step_s = times[len(times) // 2]
print(json.dumps({"tokens_per_s": round(B * T / step_s), "step_s": round(step_s, 3), "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024), "torch": torch.__version__}))
