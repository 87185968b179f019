//! A 3x3 conv (stride 1, padding 1) by Winograd's minimal filtering F(2x2, 3x3) (Lavin and
//! Gray, "Fast Algorithms for Convolutional Neural Networks", 2016): each 2x2 block of
//! outputs comes from a 4x4 input tile with 16 multiplies per (input, output) channel pair
//! instead of 36. Transformed, the conv is 16 matrix products, one per position in the tile,
//! `U[xi]` `[outputs x inputs]` times `V[xi]` `[inputs x tiles]`, between transforms that cost
//! additions linear in the channel counts:
//!
//! `Y = A^T [ (G g G^T) . (B^T d B) ] A` for a 3x3 kernel `g` and a 4x4 input tile `d`, with
//!
//! ```text
//! B^T = | 1  0 -1  0 |    G = | 1    0    0  |    A^T = | 1  1  1  0 |
//!       | 0  1  1  0 |        | 1/2  1/2  1/2|          | 0  1 -1 -1 |
//!       | 0 -1  1  0 |        | 1/2 -1/2  1/2|
//!       | 0  1  0 -1 |        | 0    0    1  |
//! ```
//!
//! It computes the cross-correlation a CNN's "convolution" is. Same function as im2col +
//! one product, to float rounding.
//!
//! Why: the serving pass already runs gemm at the core's peak (~110 GFLOP/s on this
//! machine's AVX-512), so only fewer multiplies make it faster. It pays where the tile
//! products are still wide enough for gemm's kernels; see [`pays`].

use multiversion::multiversion;

use super::{Planes, matmul};

/// Whether F(2x2, 3x3) beats im2col for a conv over `inputs` planes of `side x side`.
///
/// Measured, gemm alone, one core, im2col's product against the 16 tile products (per pass
/// of the shipped width-12 network): 24x108x1024 48 us vs 26 us (side 32, 12 inputs);
/// 24x216x256 24 vs 13 (side 16); 48x216x256 47 vs 24; 96x432x64 48 vs 24 (side 8);
/// but 12x27x1024 6.6 vs 6.3 (3 inputs: products of depth 3 run at half speed) and
/// 96x864x16 24 vs 56 (side 4: 4 tiles, products too narrow).
pub(super) fn pays(inputs: usize, side: usize) -> bool {
    inputs >= 8 && side >= 8 && side.is_multiple_of(2)
}

/// A conv's kernels transformed, `G g G^T` for every (output, input) pair.
#[derive(Debug, Clone)]
pub(super) struct WinogradKernels {
    outputs: usize,
    inputs: usize,
    /// 16 matrices `[outputs, inputs]` row-major, one per tile position `xi`.
    u: Vec<f32>,
}

impl WinogradKernels {
    /// From im2col's weight matrix: `[outputs, inputs * 9]`, columns (input, ky, kx).
    pub(super) fn new(weight: &[f32], outputs: usize, inputs: usize) -> WinogradKernels {
        let pairs = outputs * inputs;
        let mut u = vec![0.0f32; 16 * pairs];
        for (pair, g) in weight.chunks_exact(9).enumerate().take(pairs) {
            // G g: 4 rows of 3.
            let row = |r: usize| [g[3 * r], g[3 * r + 1], g[3 * r + 2]];
            let (g0, g1, g2) = (row(0), row(1), row(2));
            let gg = [
                g0,
                [0, 1, 2].map(|j| 0.5 * (g0[j] + g1[j] + g2[j])),
                [0, 1, 2].map(|j| 0.5 * (g0[j] - g1[j] + g2[j])),
                g2,
            ];
            // (G g) G^T: 4 x 4.
            for (r, h) in gg.iter().enumerate() {
                let transformed = [
                    h[0],
                    0.5 * (h[0] + h[1] + h[2]),
                    0.5 * (h[0] - h[1] + h[2]),
                    h[2],
                ];
                for (c, value) in transformed.into_iter().enumerate() {
                    u[(4 * r + c) * pairs + pair] = value;
                }
            }
        }
        WinogradKernels { outputs, inputs, u }
    }

    /// The conv's raw products of `x` into `out` (`[outputs, side * side]`), before bias and
    /// ReLU, as im2col + one product would give them. `x.side` must be even.
    pub(super) fn products(&self, x: &Planes, scratch: &mut WinogradScratch, out: &mut [f32]) {
        let grid = Grid::of(x.side);
        let WinogradScratch {
            sub_planes,
            transformed,
            products,
            corners,
        } = scratch;
        let products = self.tile_products(x, &grid, sub_planes, transformed, products);
        for (o, plane) in out
            .chunks_exact_mut(x.side * x.side)
            .enumerate()
            .take(self.outputs)
        {
            let corners = transform_output(products, self.outputs, o, &grid, corners);
            // Tile (ty, tx)'s 2x2 block: rows 2ty and 2ty + 1, columns 2tx and 2tx + 1.
            for (ty, block) in plane.chunks_exact_mut(2 * x.side).enumerate() {
                let (top, bottom) = block.split_at_mut(x.side);
                let row = |corner: usize| {
                    let start = corner * grid.len + ty * grid.width;
                    &corners[start..start + grid.half]
                };
                interleave(top, row(0), row(1));
                interleave(bottom, row(2), row(3));
            }
        }
    }

    /// The conv's raw products of `x` max-pooled 2x2 into `out` (`[outputs, side / 2 *
    /// side / 2]`): a tile's 2x2 block of outputs is exactly one pooling window, so this
    /// never lays out the full-size maps.
    pub(super) fn pooled_products(
        &self,
        x: &Planes,
        scratch: &mut WinogradScratch,
        out: &mut [f32],
    ) {
        let grid = Grid::of(x.side);
        let WinogradScratch {
            sub_planes,
            transformed,
            products,
            corners,
        } = scratch;
        let products = self.tile_products(x, &grid, sub_planes, transformed, products);
        let tiles = grid.half * grid.half;
        for (o, plane) in out.chunks_exact_mut(tiles).enumerate().take(self.outputs) {
            let corners = transform_output(products, self.outputs, o, &grid, corners);
            let (c0, rest) = corners.split_at(grid.len);
            let (c1, rest) = rest.split_at(grid.len);
            let (c2, c3) = rest.split_at(grid.len);
            for (ty, row) in plane.chunks_exact_mut(grid.half).enumerate() {
                let at = ty * grid.width;
                for ((((d, a), b), c), e) in row
                    .iter_mut()
                    .zip(&c0[at..])
                    .zip(&c1[at..])
                    .zip(&c2[at..])
                    .zip(&c3[at..])
                {
                    *d = a.max(*b).max(c.max(*e));
                }
            }
        }
    }

    /// The 16 products `U[xi] V[xi]` of `x`'s transformed tiles, `[outputs, grid.len]` each.
    fn tile_products<'s>(
        &self,
        x: &Planes,
        grid: &Grid,
        sub_planes: &mut Vec<f32>,
        transformed: &mut Vec<f32>,
        products: &'s mut Vec<f32>,
    ) -> &'s [f32] {
        let transformed = grown(transformed, 16 * self.inputs * grid.len);
        transform_input(x, grid, sub_planes, transformed);
        let products = grown(products, 16 * self.outputs * grid.len);
        let pairs = self.outputs * self.inputs;
        let (v_len, m_len) = (self.inputs * grid.len, self.outputs * grid.len);
        for xi in 0..16 {
            matmul(
                &self.u[xi * pairs..(xi + 1) * pairs],
                &transformed[xi * v_len..(xi + 1) * v_len],
                &mut products[xi * m_len..(xi + 1) * m_len],
                self.inputs,
            );
        }
        products
    }
}

/// How a map's tiles are laid out: `half` rows of `width = half + 1` (the last column of each
/// row is padding, computed and never read). With that width, every value of every 4x4 tile
/// is one of four sub-planes of the padded map shifted by a constant, so each transform
/// step is one long elementwise loop over all tiles that the compiler vectorises (per tile,
/// or per row of tiles, the loop overheads cost more than the multiplies saved).
struct Grid {
    /// Tiles per side (`side / 2`).
    half: usize,
    /// Row stride of the tile grid and of the sub-planes.
    width: usize,
    /// Tiles in the grid, padding column included (`half * width`).
    len: usize,
}

impl Grid {
    fn of(side: usize) -> Grid {
        let half = side / 2;
        let width = half + 1;
        Grid {
            half,
            width,
            len: half * width,
        }
    }

    /// Length of one sub-plane: `width` rows of `width`, plus one zero the last shifted view
    /// of the padding column reaches.
    fn sub_plane(&self) -> usize {
        self.width * self.width + 1
    }
}

/// Buffers a thread reuses between passes (the largest ~400 KB): allocating them per image
/// would page-fault every time.
#[derive(Debug, Default)]
pub(super) struct WinogradScratch {
    /// The padded input plane split by row and column parity, then `d B` of its rows.
    sub_planes: Vec<f32>,
    transformed: Vec<f32>,
    products: Vec<f32>,
    /// One output plane's four tile corners (and the rows of `A^T m` before them).
    corners: Vec<f32>,
}

/// The first `len` elements of `buffer`, grown if needed; callers overwrite all of them.
fn grown(buffer: &mut Vec<f32>, len: usize) -> &mut [f32] {
    if buffer.len() < len {
        buffer.resize(len, 0.0);
    }
    &mut buffer[..len]
}

/// `B^T d B` of every 4x4 tile (stride 2) of every input plane into `v`: 16 matrices
/// `[channels, grid.len]`.
///
/// The padded plane `P` (zero border) is split into four sub-planes by row and column parity,
/// `S[rp][cp][a][b] = P[2a + rp][2b + cp]`; tile (ty, tx)'s value `d[r][c]` is then
/// `S[r % 2][c % 2]` at `t + (r / 2) * width + c / 2`, where `t = ty * width + tx`.
#[multiversion(targets("x86_64+avx512f+avx512vl", "x86_64+avx2+fma"))]
fn transform_input(x: &Planes, grid: &Grid, buffer: &mut Vec<f32>, v: &mut [f32]) {
    let (side, width, len) = (x.side, grid.width, grid.len);
    let sub = grid.sub_plane();
    // S[rp][cp] at (2 * rp + cp) * sub, then `d B` of each row parity: H[rp][j] at
    // (4 + 4 * rp + j) * sub.
    let buffer = grown(buffer, 12 * sub);
    let (split, rows) = buffer.split_at_mut(4 * sub);
    let matrix = x.channels * len;
    for (c, plane) in x.data.chunks_exact(side * side).enumerate() {
        split.fill(0.0);
        for (y, input) in plane.chunks_exact(side).enumerate() {
            // Padded row y + 1; padded column q is input column q - 1: even columns 2b take
            // input 2b - 1 (b >= 1), odd columns 2b + 1 take input 2b.
            let (parity, a) = ((y + 1) % 2, (y + 1) / 2);
            let even = (2 * parity) * sub + a * width;
            let odd = (2 * parity + 1) * sub + a * width;
            for (b, pair) in input.chunks_exact(2).enumerate() {
                split[odd + b] = pair[0];
                split[even + b + 1] = pair[1];
            }
        }
        // d B along each row: columns d[.][0..4] are S[rp][0], S[rp][1], S[rp][0] + 1,
        // S[rp][1] + 1 (shifted by one tile).
        let span = width * width;
        for rp in 0..2 {
            let e = &split[2 * rp * sub..2 * rp * sub + sub];
            let o = &split[(2 * rp + 1) * sub..(2 * rp + 1) * sub + sub];
            let (e0, e1, o0, o1) = (&e[..span], &e[1..], &o[..span], &o[1..]);
            let h = &mut rows[4 * rp * sub..(4 * rp + 4) * sub];
            let (h0, rest) = h.split_at_mut(sub);
            let (h1, rest) = rest.split_at_mut(sub);
            let (h2, h3) = rest.split_at_mut(sub);
            combine(&mut h0[..span], e0, e1, |a, b| a - b);
            combine(&mut h1[..span], o0, e1, |a, b| a + b);
            combine(&mut h2[..span], e1, o0, |a, b| a - b);
            combine(&mut h3[..span], o0, o1, |a, b| a - b);
        }
        // B^T across rows: rows d[0..4] are H[0], H[1], H[0] + width, H[1] + width.
        for j in 0..4 {
            let h = |rp: usize, shift: usize| {
                let start = (4 * rp + j) * sub + shift;
                &rows[start..start + len]
            };
            let (r0, r1, r2, r3) = (h(0, 0), h(1, 0), h(0, width), h(1, width));
            let at = |i: usize| (4 * i + j) * matrix + c * len;
            let (v0, v1, v2, v3) = (at(0), at(1), at(2), at(3));
            combine(&mut v[v0..v0 + len], r0, r2, |a, b| a - b);
            combine(&mut v[v1..v1 + len], r1, r2, |a, b| a + b);
            combine(&mut v[v2..v2 + len], r2, r1, |a, b| a - b);
            combine(&mut v[v3..v3 + len], r1, r3, |a, b| a - b);
        }
    }
}

/// `A^T m A` of output plane `o`'s tiles from the 16 products `m` (`[outputs, grid.len]`
/// each): the tiles' four corners (top left, top right, bottom left, bottom right), each
/// `grid.len` long, at the start of the returned slice.
#[multiversion(targets("x86_64+avx512f+avx512vl", "x86_64+avx2+fma"))]
fn transform_output<'b>(
    m: &[f32],
    outputs: usize,
    o: usize,
    grid: &Grid,
    buffer: &'b mut Vec<f32>,
) -> &'b [f32] {
    let len = grid.len;
    let m = |xi: usize| {
        let start = (xi * outputs + o) * len;
        &m[start..start + len]
    };
    let buffer = grown(buffer, 12 * len);
    let (corners, s) = buffer.split_at_mut(4 * len);
    // A^T m: row a of column j at s[(2 * j + a) * len..].
    for (j, pair) in s.chunks_exact_mut(2 * len).enumerate() {
        let (s0, s1) = pair.split_at_mut(len);
        combine3(s0, m(j), m(4 + j), m(8 + j), |a, b, c| a + b + c);
        combine3(s1, m(4 + j), m(8 + j), m(12 + j), |a, b, c| a - b - c);
    }
    // (A^T m) A.
    let col = |j: usize, a: usize| &s[(2 * j + a) * len..(2 * j + a + 1) * len];
    for (corner, dst) in corners.chunks_exact_mut(len).enumerate() {
        let a = corner / 2;
        if corner % 2 == 0 {
            combine3(dst, col(0, a), col(1, a), col(2, a), |x, y, z| x + y + z);
        } else {
            combine3(dst, col(1, a), col(2, a), col(3, a), |x, y, z| x - y - z);
        }
    }
    corners
}

/// `dst[i] = f(a[i], b[i])`, over the shortest of the three.
#[inline(always)]
fn combine(dst: &mut [f32], a: &[f32], b: &[f32], f: impl Fn(f32, f32) -> f32) {
    for (d, (a, b)) in dst.iter_mut().zip(a.iter().zip(b)) {
        *d = f(*a, *b);
    }
}

/// `dst[i] = f(a[i], b[i], c[i])`, over the shortest of the four.
#[inline(always)]
fn combine3(dst: &mut [f32], a: &[f32], b: &[f32], c: &[f32], f: impl Fn(f32, f32, f32) -> f32) {
    for (d, ((a, b), c)) in dst.iter_mut().zip(a.iter().zip(b).zip(c)) {
        *d = f(*a, *b, *c);
    }
}

/// `dst = [even[0], odd[0], even[1], odd[1], ...]`.
fn interleave(dst: &mut [f32], even: &[f32], odd: &[f32]) {
    for (pair, (e, o)) in dst.chunks_exact_mut(2).zip(even.iter().zip(odd)) {
        pair[0] = *e;
        pair[1] = *o;
    }
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    use super::{WinogradKernels, WinogradScratch};
    use crate::serving::{Planes, im2col_3x3, matmul, max_pool_2x2};

    /// F(2x2, 3x3) must give im2col's products, borders included, for every shape the network
    /// uses it on and an odd channel count; the scratch is reused across shapes as a thread's is.
    #[test]
    fn winograd_products_match_im2col() {
        let mut rng = StdRng::seed_from_u64(11);
        let mut scratch = WinogradScratch::default();
        for (inputs, outputs, side) in [
            (12, 24, 32),
            (24, 24, 16),
            (24, 48, 16),
            (48, 96, 8),
            (5, 3, 2),
        ] {
            let weight: Vec<f32> = (0..outputs * inputs * 9)
                .map(|_| rng.random_range(-1.0..1.0))
                .collect();
            let x = Planes {
                channels: inputs,
                side,
                data: (0..inputs * side * side)
                    .map(|_| rng.random_range(-1.0..1.0))
                    .collect(),
            };
            let mut cols = vec![0.0; inputs * 9 * side * side];
            im2col_3x3(&x, &mut cols);
            let mut expected = vec![0.0; outputs * side * side];
            matmul(&weight, &cols, &mut expected, inputs * 9);

            let kernels = WinogradKernels::new(&weight, outputs, inputs);
            let mut got = vec![f32::NAN; outputs * side * side];
            kernels.products(&x, &mut scratch, &mut got);
            assert_close(
                &expected,
                &got,
                &format!("{inputs}->{outputs} at side {side}"),
            );

            let mut pooled = vec![f32::NAN; outputs * side * side / 4];
            kernels.pooled_products(&x, &mut scratch, &mut pooled);
            let what = format!("{inputs}->{outputs} at side {side}, pooled");
            assert_close(&max_pool_2x2(&expected, side), &pooled, &what);
        }
    }

    fn assert_close(expected: &[f32], got: &[f32], what: &str) {
        assert_eq!(expected.len(), got.len(), "{what}");
        for (i, (e, g)) in expected.iter().zip(got).enumerate() {
            assert!(
                (e - g).abs() <= 1e-4 * e.abs().max(1.0),
                "{what}, element {i}: {e} vs {g}"
            );
        }
    }
}
