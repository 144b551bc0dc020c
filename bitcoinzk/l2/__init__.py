"""bitcoinzk.l2"""
