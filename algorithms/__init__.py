"""memxbar.algorithms"""
