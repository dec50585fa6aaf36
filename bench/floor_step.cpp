// The "floor" of bench/mnist1d_epoch.py: the full GLE training step of a layered network (the MNIST-1D model)
// as the plain loops a competent programmer would write, in double precision. It computes the step of the numpy
// mirror, gle_brian/reference.py (ReferenceNetwork.step(x, target, learn=True), CE loss, prospective errors,
// gamma = 0, biases) with Adam (gle_brian/optimisers.py: PyTorch's, bias-corrected, on every W and b every step).
//
// Order of one step (every layer reads the values stored before the step):
//   1. output error     e = beta*(target - softmax(r_out)), from the output rates stored at the previous step
//   2. forward products drive_l = W_l r_{l-1} + b_l  (I_basal + b; r_{-1}: the input), from the stored rates
//   3. neuron update    eps = r_prime*I_apical (I_apical of the output layer: e), v, err = v + tau_m dv/dt,
//                       u, u_breve = u + tau_r du/dt, r = phi(u_breve), r_prime = phi'(u_breve)
//   4. feedback         I_apical_l = W_{l+1}^T err_{l+1}  (the new errors, the weights before this step's update):
//                       the apical input of the next step
//   5. gradient + Adam  g_W = -mean_batch(err_l r_{l-1}^T) (the stored rates of step 2), g_b = -mean_batch(err_l)
//
// Build and run (bench/floor.py writes the files and does both):
//   g++ -O3 -march=native -ffast-math -std=c++17 -o floor_step floor_step.cpp
//   ./floor_step DIR
// DIR holds header.txt (sizes, batch, steps per run, dt, beta, Adam's hyperparameters), parameters.bin (per
// layer W (n x n_pre, row-major), b, tau_m, tau_r in seconds), x.bin (steps x batch x n_in) and target.bin
// (steps x batch x n_out), all float64. The runs follow each other, the state carried over; each run's step
// loop is timed (file reading and writing excluded) and printed as a line "run K SECONDS". The final state is
// written to DIR/state.bin: per layer u, v, r, r_prime, err, I_apical (batch x n each), then per layer W and b.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

using Vector = std::vector<double>;

struct AdamSettings {
    double lr, beta1, beta2, eps;
};

struct AdamState {                  // the moments of one parameter (W or b) and its step count
    Vector m, v;
    long step = 0;
    explicit AdamState(size_t size) : m(size, 0.0), v(size, 0.0) {}
};

struct Layer {
    int n, n_pre;
    bool is_tanh;                   // phi = tanh, else linear
    Vector W, b, tau_m, tau_r;      // W: n x n_pre, row-major
    // state, batch x n, row-major: the values stored after the last step (r_next: this step's rates)
    Vector u, v, r, r_next, r_prime, err, I_apical, drive;
    Vector g_W, g_b;
    AdamState adam_W, adam_b;

    Layer(int n, int n_pre, bool is_tanh, int batch)
        : n(n), n_pre(n_pre), is_tanh(is_tanh), W(size_t(n) * n_pre), b(n), tau_m(n), tau_r(n),
          u(size_t(batch) * n), v(u), r(u), r_next(u), r_prime(u), err(u), I_apical(u), drive(u),
          g_W(W.size()), g_b(n), adam_W(W.size()), adam_b(n) {}
};

struct Problem {
    int n_in = 0, batch = 0;
    std::vector<int> sizes;
    std::vector<bool> is_tanh;
    std::vector<long> run_steps;
    double dt = 0, beta = 0;
    AdamSettings adam{};
};

// --- the parts of the step ----------------------------------------------------------------------

// 1. e = beta*(target - softmax(r)) for each copy (softmax with the maximum subtracted: the mirror's
// 1/sum_j exp(r_j - r_k) to round-off)
void output_error(const Layer& out, const double* target, double beta, int batch, Vector& e) {
    const int n = out.n;
    for (int s = 0; s < batch; ++s) {
        const double* r = &out.r[size_t(s) * n];
        const double* y = target + size_t(s) * n;
        double* error = &e[size_t(s) * n];
        const double top = *std::max_element(r, r + n);
        double sum = 0.0;
        for (int k = 0; k < n; ++k) {
            error[k] = std::exp(r[k] - top);
            sum += error[k];
        }
        for (int k = 0; k < n; ++k) error[k] = beta * (y[k] - error[k] / sum);
    }
}

// the two loops of the products: a dot product and y += a*x (the arrays do not overlap: with __restrict the
// compiler vectorises them without run-time overlap checks)
double dot(int n, const double* __restrict x, const double* __restrict y) {
    double sum = 0.0;
    for (int j = 0; j < n; ++j) sum += x[j] * y[j];
    return sum;
}

void add_scaled(int n, double a, const double* __restrict x, double* __restrict y) {
    for (int j = 0; j < n; ++j) y[j] += a * x[j];
}

// 2. drive = W pre + b (I_basal + b) for each copy; pre: batch x n_pre (the input, or the stored rates below)
void forward(Layer& layer, const double* pre, int batch) {
    const int n = layer.n, n_pre = layer.n_pre;
    for (int s = 0; s < batch; ++s)
        for (int i = 0; i < n; ++i)
            layer.drive[size_t(s) * n + i] = dot(n_pre, &layer.W[size_t(i) * n_pre], pre + size_t(s) * n_pre)
                                             + layer.b[i];
}

// 3a. the neurons of one copy (n neurons): the arrays do not overlap (__restrict: the compiler vectorises the loops,
// tanh included, with glibc's vector tanh)
void update_row(int n, bool is_tanh, double dt, const double* __restrict tau_m, const double* __restrict tau_r,
                const double* __restrict drive, const double* __restrict I_apical, double* __restrict u,
                double* __restrict v, double* __restrict err, double* __restrict r, double* __restrict r_prime) {
    for (int i = 0; i < n; ++i) {
        const double eps = r_prime[i] * I_apical[i];         // phi' of the previous step
        const double v_dot = (eps - v[i]) / tau_r[i];
        err[i] = v[i] + tau_m[i] * v_dot;                    // prospective error
        v[i] += dt * v_dot;
        const double u_dot = (drive[i] - u[i]) / tau_m[i];   // gamma = 0: no nudging
        r[i] = u[i] + tau_r[i] * u_dot;                      // u_breve
        u[i] += dt * u_dot;
    }
    if (is_tanh) {                                           // r = phi(u_breve), r_prime = phi'(u_breve)
        for (int i = 0; i < n; ++i) {
            r[i] = std::tanh(r[i]);
            r_prime[i] = 1.0 - r[i] * r[i];
        }
    } else {
        std::fill(r_prime, r_prime + n, 1.0);
    }
}

// 3. the neurons of a layer; apical: batch x n (the stored I_apical, or the output error); r_next gets the rates
void update_neurons(Layer& layer, const double* apical, double dt, int batch) {
    for (int s = 0; s < batch; ++s) {
        const size_t row = size_t(s) * layer.n;
        update_row(layer.n, layer.is_tanh, dt, layer.tau_m.data(), layer.tau_r.data(), &layer.drive[row],
                   apical + row, &layer.u[row], &layer.v[row], &layer.err[row], &layer.r_next[row],
                   &layer.r_prime[row]);
    }
}

// 4. below.I_apical = above.W^T above.err for each copy (above.W: before this step's update)
void feedback(const Layer& above, Layer& below, int batch) {
    const int n = above.n, n_pre = above.n_pre;
    for (int s = 0; s < batch; ++s) {
        double* apical = &below.I_apical[size_t(s) * n_pre];
        std::fill(apical, apical + n_pre, 0.0);
        for (int i = 0; i < n; ++i)
            add_scaled(n_pre, above.err[size_t(s) * n + i], &above.W[size_t(i) * n_pre], apical);
    }
}

// 5a. one Adam step (step count t) on the parameter p of size elements with the gradient g and the moments m, v
void adam_step(size_t size, long t, AdamSettings adam, const double* __restrict g, double* __restrict p,
               double* __restrict m, double* __restrict v) {
    const double step_size = adam.lr / (1.0 - std::pow(adam.beta1, double(t)));
    const double root_correction = std::sqrt(1.0 - std::pow(adam.beta2, double(t)));
    for (size_t k = 0; k < size; ++k) {
        m[k] = adam.beta1 * m[k] + (1.0 - adam.beta1) * g[k];
        v[k] = adam.beta2 * v[k] + (1.0 - adam.beta2) * g[k] * g[k];
        p[k] -= step_size * m[k] / (std::sqrt(v[k]) / root_correction + adam.eps);
    }
}

void adam_step(Vector& p, const Vector& g, AdamState& state, const AdamSettings& adam) {
    state.step += 1;
    adam_step(p.size(), state.step, adam, g.data(), p.data(), state.m.data(), state.v.data());
}

// 5. the batch-mean gradients of W and b from this step's errors and the presynaptic rates of step 2, then Adam
void learn(Layer& layer, const double* pre, int batch, const AdamSettings& adam) {
    const int n = layer.n, n_pre = layer.n_pre;
    std::fill(layer.g_W.begin(), layer.g_W.end(), 0.0);
    std::fill(layer.g_b.begin(), layer.g_b.end(), 0.0);
    for (int s = 0; s < batch; ++s) {
        for (int i = 0; i < n; ++i) {
            const double e = layer.err[size_t(s) * n + i];
            add_scaled(n_pre, e, pre + size_t(s) * n_pre, &layer.g_W[size_t(i) * n_pre]);
            layer.g_b[i] += e;
        }
    }
    const double scale = -1.0 / batch;
    for (double& g : layer.g_W) g *= scale;
    for (double& g : layer.g_b) g *= scale;
    adam_step(layer.W, layer.g_W, layer.adam_W, adam);
    adam_step(layer.b, layer.g_b, layer.adam_b, adam);
}

// the whole step: x (batch x n_in), target (batch x n_out)
void step(std::vector<Layer>& layers, const double* x, const double* target, const Problem& p, Vector& e) {
    const int L = int(layers.size());
    output_error(layers[L - 1], target, p.beta, p.batch, e);
    for (int l = 0; l < L; ++l) forward(layers[l], l == 0 ? x : layers[l - 1].r.data(), p.batch);
    for (int l = 0; l < L; ++l) update_neurons(layers[l], l == L - 1 ? e.data() : layers[l].I_apical.data(), p.dt,
                                               p.batch);
    for (int l = 0; l + 1 < L; ++l) feedback(layers[l + 1], layers[l], p.batch);
    layers[L - 1].I_apical = e;      // the output layer's apical input (as the mirror records it)
    for (int l = 0; l < L; ++l) learn(layers[l], l == 0 ? x : layers[l - 1].r.data(), p.batch, p.adam);
    for (Layer& layer : layers) std::swap(layer.r, layer.r_next);     // the new rates are stored
}

// --- files -----------------------------------------------------------------------------------------

void expect(std::ifstream& in, const std::string& key) {
    std::string word;
    if (!(in >> word) || word != key)
        throw std::runtime_error("header.txt: expected '" + key + "', read '" + word + "'");
}

Problem read_header(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot open " + path);
    Problem p;
    int n_layers = 0, runs = 0;
    expect(in, "n_in"); in >> p.n_in;
    expect(in, "layers"); in >> n_layers;
    expect(in, "sizes");
    p.sizes.resize(n_layers);
    for (int& n : p.sizes) in >> n;
    expect(in, "activations");
    for (int l = 0; l < n_layers; ++l) {
        std::string name;
        in >> name;
        if (name != "tanh" && name != "linear") throw std::runtime_error("unknown activation " + name);
        p.is_tanh.push_back(name == "tanh");
    }
    expect(in, "batch"); in >> p.batch;
    expect(in, "runs"); in >> runs;
    expect(in, "steps");
    p.run_steps.resize(runs);
    for (long& steps : p.run_steps) in >> steps;
    expect(in, "dt"); in >> p.dt;
    expect(in, "beta"); in >> p.beta;
    expect(in, "adam"); in >> p.adam.lr >> p.adam.beta1 >> p.adam.beta2 >> p.adam.eps;
    if (!in) throw std::runtime_error(path + " ends early or holds a bad number");
    return p;
}

void read_values(std::ifstream& in, double* values, size_t count, const std::string& path) {
    if (!in.read(reinterpret_cast<char*>(values), std::streamsize(count * sizeof(double))))
        throw std::runtime_error(path + " is shorter than the header says");
}

Vector read_file(const std::string& path, size_t count) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot open " + path);
    Vector values(count);
    read_values(in, values.data(), count, path);
    return values;
}

void write_values(std::ofstream& out, const Vector& values) {
    out.write(reinterpret_cast<const char*>(values.data()), std::streamsize(values.size() * sizeof(double)));
}

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s DIR (DIR holds header.txt, parameters.bin, x.bin, target.bin)\n", argv[0]);
        return 2;
    }
    try {
        const std::string dir = argv[1];
        const Problem p = read_header(dir + "/header.txt");
        std::vector<Layer> layers;
        int n_pre = p.n_in;
        for (size_t l = 0; l < p.sizes.size(); ++l) {
            layers.emplace_back(p.sizes[l], n_pre, p.is_tanh[l], p.batch);
            n_pre = p.sizes[l];
        }
        std::ifstream parameters(dir + "/parameters.bin", std::ios::binary);
        if (!parameters) throw std::runtime_error("cannot open parameters.bin");
        for (Layer& layer : layers)
            for (Vector* values : {&layer.W, &layer.b, &layer.tau_m, &layer.tau_r})
                read_values(parameters, values->data(), values->size(), "parameters.bin");
        long total_steps = 0;
        for (long steps : p.run_steps) total_steps += steps;
        const int n_out = layers.back().n;
        const size_t x_stride = size_t(p.batch) * p.n_in, target_stride = size_t(p.batch) * n_out;
        const Vector x = read_file(dir + "/x.bin", total_steps * x_stride);
        const Vector target = read_file(dir + "/target.bin", total_steps * target_stride);

        Vector e(target_stride, 0.0);
        long t = 0;
        for (size_t k = 0; k < p.run_steps.size(); ++k) {
            const auto start = std::chrono::steady_clock::now();
            for (long end = t + p.run_steps[k]; t < end; ++t)
                step(layers, &x[t * x_stride], &target[t * target_stride], p, e);
            const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
            std::printf("run %zu %.9f\n", k, elapsed.count());
        }

        std::ofstream out(dir + "/state.bin", std::ios::binary);
        for (const Layer& layer : layers)
            for (const Vector* values : {&layer.u, &layer.v, &layer.r, &layer.r_prime, &layer.err, &layer.I_apical})
                write_values(out, *values);
        for (const Layer& layer : layers) {
            write_values(out, layer.W);
            write_values(out, layer.b);
        }
        if (!out) throw std::runtime_error("writing state.bin failed");
    } catch (const std::exception& error) {
        std::fprintf(stderr, "floor_step: %s\n", error.what());
        return 1;
    }
    return 0;
}
