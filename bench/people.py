"""Brazilian first and last names and area codes for the benchmarks' generated data."""

FIRST = ["Maria", "Ana", "Fernanda", "Juliana", "Patrícia", "Aline", "Camila", "Amanda", "Bruna",
         "Jéssica", "Letícia", "Júlia", "Luciana", "Vanessa", "Mariana", "Gabriela", "Beatriz",
         "Larissa", "Renata", "Carla", "Sandra", "Cristina", "Adriana", "Simone", "Daniela",
         "José", "João", "Antônio", "Francisco", "Carlos", "Paulo", "Pedro", "Lucas", "Luiz",
         "Marcos", "Luís", "Gabriel", "Rafael", "Daniel", "Marcelo", "Bruno", "Eduardo",
         "Felipe", "Raimundo", "Rodrigo", "Thiago", "Fábio", "Gustavo", "Leonardo", "Diego",
         "André", "Ricardo", "Fernando", "Matheus", "Vinícius", "Sérgio", "Roberto",
         "Alexandre", "Igor", "Caio"]
LAST = ["Silva", "Santos", "Oliveira", "Souza", "Rodrigues", "Ferreira", "Alves", "Pereira",
        "Lima", "Gomes", "Costa", "Ribeiro", "Martins", "Carvalho", "Almeida", "Lopes",
        "Soares", "Fernandes", "Vieira", "Barbosa", "Rocha", "Dias", "Nascimento", "Andrade",
        "Moreira", "Nunes", "Marques", "Machado", "Mendes", "Freitas", "Cardoso", "Ramos",
        "Gonçalves", "Santana", "Teixeira", "Araújo", "Correia", "Pinto", "Cavalcanti", "Moura"]
DDD = ["11", "21", "31", "41", "51", "61", "71", "81", "85", "19", "27", "48", "62", "92"]
