"""The data a run reads: image data sets (scikit-learn digits, MNIST, CIFAR-10, STL-10) with
their download and checks (``memxbar data fetch``), and the spike workloads generated from a
seed (the correlation benchmark, the weather stations)."""
