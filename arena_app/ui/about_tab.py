"""About: how the arena works, the rating method, what is stored about a user, and the terms."""

from __future__ import annotations

import gradio as gr

ABOUT = r"""
## How the arena works
1. In **Arena (battle)** you chat with two anonymous models at once. They are drawn at random (weighted by
   the operator's endpoint settings) from the healthy models, and their sides are shuffled.
2. You can keep chatting for several turns. When you are ready, vote: **A is better**, **B is better**,
   **Tie** or **Both are bad**. Each battle takes exactly one vote.
3. After the vote the model names are revealed, with each side's time to first token, duration and length.
4. If an answer names a model or organization in the arena, the vote is kept but **not counted**, because the
   battle was no longer anonymous.
5. **Side-by-side** and **Direct chat** let you pick models yourself; those votes and feedback are stored
   but never counted on the anonymous leaderboard.

## How ratings are computed
Each counted vote is a battle between model $a$ and model $b$ with outcome $y$: 1 if $a$ won, 0 if $b$
won, ½ for a tie or "both are bad".

**Bradley–Terry (the Arena score).** Every model $i$ gets a rating $R_i$. The chance that $a$ beats $b$ is

$$P(a \succ b) = \frac{1}{1 + 10^{(R_b - R_a)/400}}$$

The ratings are the values that make the observed votes most likely (maximum likelihood, fitted on all
counted anonymous votes at once, so the order of votes does not matter), anchored so the scale starts
around 1000.

**95% confidence interval.** The votes are resampled with replacement many times (bootstrap) and the model
is refitted each time; the interval spans the 2.5th to 97.5th percentile of those ratings.

**Rank (UB).** $\text{rank}_i = 1 + \#\{j : \text{lower}_j > \text{upper}_i\}$ — a model ranks below
only the models that are statistically better than it, so several models can share a rank.

**Online Elo.** For comparison, votes are also replayed in time order with
$R_a \leftarrow R_a + K\,(y - P(a \succ b))$ and $R_b \leftarrow R_b - K\,(y - P(a \succ b))$, $K = 4$.

**Style control.** Longer or more heavily formatted answers tend to win votes. With style control on, the
fit adds the differences in answer length and in Markdown headers, lists and bold text as extra
explanatory variables, so the Arena score estimates what is left once style is accounted for.

**Preliminary.** Models with fewer votes than the operator's minimum are marked preliminary: their
intervals are wide and their rank can change quickly.

## What is stored about you
- Your messages and the models' answers (including answers you stopped), your votes and feedback, with
  timestamps, the generation parameters and timing (time to first token, duration, token counts).
- A random session id for your browser session.
- **No IP address.** Your address is turned into a *salted hash* (HMAC-SHA256 with a secret salt kept by
  the operator) so repeated votes from one client can be spotted without storing who you are.
- No account, no cookies for tracking, no analytics.

## Terms
By using this service you agree that it is a research preview with limited safeguards: the models may
produce inaccurate, offensive or unsafe content. **Do not enter private or sensitive information.** Your
conversations and votes may be published as an anonymised dataset to support research.
"""


def build_about_tab() -> None:
    gr.Markdown(
        ABOUT,
        elem_id="about-content",
        latex_delimiters=[
            {"left": "$$", "right": "$$", "display": True},
            {"left": "$", "right": "$", "display": False},
        ],
    )
