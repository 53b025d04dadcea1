//! The controllers' admin API: found by label in the controller namespace and reached
//! through the apiserver's pod proxy, or at `--admin-url`.
